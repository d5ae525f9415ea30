"""The probe-level LINCS model (paper section 3.4): the L1000 chip's landmark probes -> every other probe of the compendium.

Training data: `probe_maps` turns the chip and the compendium's probe ids into one-probe gene maps, so that the gene-level
code (`dgex.genes.microarray_genes`) builds the matrix and everything after it is unchanged. Inference: `ProbeRows` lays
an output out in the compendium's probe order (the bundle's row order), landmarks included.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np
import pandas as pd

from .gctx import CMAP_NULL
from .io import InputError
from .sources import GeneMap

if TYPE_CHECKING:
    from .bundle import Bundle
    from .gctx import GctxStream

LINCS_MODELS = ("genes", "probes")


def probe_maps(chip: pd.DataFrame, probe_ids: Sequence[str], source: str,
               symbols: dict[str, str] | None = None) -> tuple[GeneMap, GeneMap]:
    """Landmark and target maps of the probe-level model, both in the compendium's probe order.

    Landmarks are the chip's landmark probes (`dgex.l1000.read_chip`), targets every other probe of the compendium; each
    'gene' is one probe, named by its probe id where the gene-level maps have an Ensembl id. Landmark symbols come from
    the chip, target symbols from `symbols` (probe id -> symbol; -666 where absent).
    """
    present = set(probe_ids)
    absent = chip.loc[~chip["probe_id"].isin(present)]
    if len(absent):
        names = [f"{s} ({p})" for s, p in zip(absent["symbol"], absent["probe_id"])]
        raise InputError(f"{source}: {len(absent)} of the chip's {len(chip)} L1000 landmark probes (pr_type LM) are not "
                         f"in the compendium, e.g. {names[:8]}: the probe-level model takes every landmark as an input; "
                         "use a compendium of an HG-U133A-based platform (GPL96, GPL570) or lincs_model: genes")
    is_lm = pd.Index(probe_ids).isin(chip["probe_id"])
    lm = [p for p, m in zip(probe_ids, is_lm) if m]
    tg = [p for p, m in zip(probe_ids, is_lm) if not m]
    chip_symbol = dict(zip(chip["probe_id"], chip["symbol"]))
    other = symbols or {}
    return (GeneMap([chip_symbol[p] for p in lm], lm, [[p] for p in lm]),
            GeneMap([other.get(p, str(CMAP_NULL)) for p in tg], tg, [[p] for p in tg]))


def probe_symbols(*maps: GeneMap) -> dict[str, str]:
    """Probe id -> gene symbol from gene maps (map_lm, map_tg): annotation of target probes; the first map wins."""
    out: dict[str, str] = {}
    for m in maps:
        for symbol, probes in zip(m.symbols, m.probes):
            for p in probes:
                out.setdefault(p, symbol)
    return out


@dataclass
class ProbeRows:
    """An inference output in the bundle's row order (the compendium's probes): each landmark row holds its network
    input in expression units (the bundle's normalization applied, or the training mean where imputed), each target
    row its inferred value."""

    rids: list[str]
    landmark_rows: np.ndarray  # output row of each bundle landmark (model input order)
    target_rows: np.ndarray  # output row of each bundle target (output order)
    mean: np.ndarray  # landmarks' GEO-tr mean and std: network inputs back to expression units
    std: np.ndarray

    @classmethod
    def of(cls, bundle: Bundle) -> ProbeRows | None:
        """The layout of a probe-level bundle; None for a gene-level one (input rows, then inferred targets)."""
        if bundle.rows is None:
            return None
        rids = bundle.rows["row_id"].tolist()
        pos = pd.Index(rids)
        return cls(rids, pos.get_indexer(bundle.landmarks["gene"]), pos.get_indexer(bundle.targets["gene"]),
                   bundle.landmarks["mean"].to_numpy(np.float32), bundle.landmarks["std"].to_numpy(np.float32))

    def assemble(self, Z: np.ndarray, inferrer: Callable[[np.ndarray], np.ndarray],
                 out: np.ndarray | None = None) -> np.ndarray:
        """One output block (profiles x rows) from standardized landmarks Z and the networks, into `out` if given."""
        if out is None:
            out = np.empty((len(Z), len(self.rids)), dtype=np.float32)
        out[:, self.target_rows] = inferrer(Z)
        out[:, self.landmark_rows] = Z * self.std + self.mean
        return out

    def row_meta(self, src: GctxStream, bundle: Bundle, idx: np.ndarray) -> pd.DataFrame:
        """Row metadata: the dgex_* fields of every row, and the input's own row fields on the landmark rows it gave."""
        n, lm, tg = len(self.rids), bundle.landmarks, bundle.targets
        lm_rows, tg_rows = self.landmark_rows, self.target_rows

        def field(lm_values, tg_values, dtype=object) -> np.ndarray:
            col = np.empty(n, dtype=dtype)
            col[lm_rows], col[tg_rows] = lm_values, tg_values
            return col

        meta = pd.DataFrame({
            "dgex_status": field(np.where(idx >= 0, "measured", "imputed"), "inferred"),
            "dgex_model_input": field(1, 0, np.int64),
            "dgex_symbol": field(lm["symbol"].to_numpy(object), tg["symbol"].to_numpy(object)),
            "dgex_probe_id": np.array(self.rids, dtype=object),
            "dgex_entrez_id": field(lm["entrez_id"].to_numpy(object), str(CMAP_NULL)),
            "dgex_part": field(CMAP_NULL, tg["part"].to_numpy(np.int64), np.int64),
        })
        source_row = np.full(n, -1)
        source_row[lm_rows] = idx
        given = source_row >= 0
        meta_in, fields = src.row_meta.reset_index(drop=True), {}
        meta_in.columns = [str(c) for c in meta_in.columns]
        for c in meta_in.columns:
            if c in meta.columns or c == "id":
                continue
            col = meta_in[c]
            numeric = pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)
            fields[c] = np.full(n, CMAP_NULL if numeric else str(CMAP_NULL), dtype=col.dtype if numeric else object)
            fields[c][given] = (col if numeric else col.astype(str)).to_numpy()[source_row[given]]
        meta = pd.concat([pd.DataFrame(fields), meta], axis=1)
        if "pr_gene_symbol" in meta.columns:  # the L1000 field, filled on every row
            meta["pr_gene_symbol"] = meta["dgex_symbol"]
        return meta
