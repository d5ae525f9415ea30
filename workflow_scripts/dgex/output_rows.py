"""The row layouts of an inference output: which row holds what, the rows' metadata, and how one block is filled.

A gene-level bundle's output is the input's rows (measured, their metadata kept) followed by the inferred targets
(`MeasuredThenTargets`); a probe-level bundle's is the compendium's probes in the bundle's row order, landmark rows
holding the network inputs in expression units (`ProbeRows`). `output_rows` picks the bundle's.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Union

import numpy as np
import pandas as pd

from .gctx import CMAP_NULL
from .io import InputError

if TYPE_CHECKING:
    from .bundle import Bundle
    from .gctx import GctxStream

log = logging.getLogger("dgex.infer")

Infer = Callable[..., np.ndarray]  # standardized landmarks (profiles x landmarks), optional out -> targets


def _row_meta(dgex: pd.DataFrame, src: GctxStream, source_row: np.ndarray) -> pd.DataFrame:
    """The input's own row fields, then the `dgex_*` fields: output row i shows input row source_row[i] (-1: none).

    A field named like a dgex_* one is left out; rows the input did not give get -666 (numeric) or '-666' (text), and
    the L1000 field pr_gene_symbol gets dgex_symbol there.
    """
    meta_in = src.row_meta.reset_index(drop=True)
    meta_in.columns = [str(c) for c in meta_in.columns]
    given = source_row >= 0
    fields = {}
    for c in meta_in.columns:
        if c in dgex.columns or c == "id":
            continue
        col = meta_in[c]
        numeric = pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)
        fields[c] = np.full(len(source_row), CMAP_NULL if numeric else str(CMAP_NULL), dtype=col.dtype if numeric else object)
        fields[c][given] = (col if numeric else col.astype(str)).to_numpy()[source_row[given]]
    if "pr_gene_symbol" in fields:
        fields["pr_gene_symbol"][~given] = dgex["dgex_symbol"].to_numpy()[~given]
    return pd.concat([pd.DataFrame(fields), dgex], axis=1)


@dataclass
class MeasuredThenTargets:
    """A gene-level output: the input's rows as measured, then one inferred row per bundle target."""

    rids: list[str]
    meta: pd.DataFrame
    n_measured: int
    target_rows: np.ndarray = field(init=False)
    attrs: dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        self.target_rows = np.arange(self.n_measured, len(self.rids))

    @classmethod
    def of(cls, src: GctxStream, bundle: Bundle, idx: np.ndarray) -> MeasuredThenTargets:
        """The layout for input `src` whose row idx[k] is bundle landmark k (-1: absent)."""
        lm, tg = bundle.landmarks, bundle.targets
        n_in, n_tg = len(src.rids), len(tg)
        clash = set(src.rids) & set(tg["gene"])
        if clash:
            raise InputError(f"{src.path}: row ids {sorted(clash)[:5]} are also target genes' Ensembl ids; give landmark "
                             f"probe or Entrez ids")
        given = idx >= 0
        lm_of_row = np.full(n_in, -1)
        lm_of_row[idx[given]] = np.flatnonzero(given)

        def from_bundle(col: str) -> list[str]:
            values = np.append(lm[col].astype(str).to_numpy(object), str(CMAP_NULL))
            return values[lm_of_row].tolist()  # index -1: the placeholder

        dgex = pd.DataFrame({
            "dgex_status": ["measured"] * n_in + ["inferred"] * n_tg,
            "dgex_model_input": np.concatenate([(lm_of_row >= 0).astype(np.int64), np.zeros(n_tg, np.int64)]),
            "dgex_ensembl_id": from_bundle("gene") + tg["gene"].tolist(),
            "dgex_symbol": from_bundle("symbol") + tg["symbol"].tolist(),
            "dgex_probe_id": from_bundle("probe_id") + tg["probe_ids"].tolist(),
            "dgex_entrez_id": from_bundle("entrez_id") + [str(CMAP_NULL)] * n_tg,
            "dgex_part": np.concatenate([np.full(n_in, CMAP_NULL), tg["part"].to_numpy(np.int64)]),
        })
        meta = _row_meta(dgex, src, np.concatenate([np.arange(n_in), np.full(n_tg, -1)]))
        return cls(list(src.rids) + tg["gene"].tolist(), meta, n_in)

    def fill(self, block: np.ndarray, Z: np.ndarray, infer: Infer, out: np.ndarray) -> None:
        """One output block (profiles x rows) from the input block and its standardized landmarks Z, in place."""
        out[:, : self.n_measured] = block
        infer(Z, out[:, self.n_measured :])


@dataclass
class ProbeRows:
    """A probe-level output in the bundle's row order (the compendium's probes): each landmark row holds its network
    input in expression units (the bundle's normalization applied, or the training mean where imputed), each target
    row its inferred value."""

    rids: list[str]
    meta: pd.DataFrame
    landmark_rows: np.ndarray  # output row of each bundle landmark (model input order)
    target_rows: np.ndarray  # output row of each bundle target (output order)
    mean: np.ndarray  # landmarks' GEO-tr mean and std: network inputs back to expression units
    std: np.ndarray
    attrs: dict[str, str] = field(
        default_factory=lambda: {"dgex_row_order": "compendium probes; landmark rows: network inputs in expression units"})

    @classmethod
    def of(cls, src: GctxStream, bundle: Bundle, idx: np.ndarray) -> ProbeRows:
        """The layout of probe-level `bundle` for input `src` whose row idx[k] is bundle landmark k (-1: absent)."""
        rids = bundle.rows["row_id"].tolist()
        pos = pd.Index(rids)
        lm_rows, tg_rows = pos.get_indexer(bundle.landmarks["gene"]), pos.get_indexer(bundle.targets["gene"])
        n, lm, tg = len(rids), bundle.landmarks, bundle.targets
        unused = len(src.rids) - int((idx >= 0).sum())
        if unused:
            log.warning("%s: %d input row(s) are not landmarks of the probe-level model and are left out of the output",
                        src.path, unused)

        def on_rows(lm_values, tg_values, dtype=object) -> np.ndarray:
            col = np.empty(n, dtype=dtype)
            col[lm_rows], col[tg_rows] = lm_values, tg_values
            return col

        dgex = pd.DataFrame({
            "dgex_status": on_rows(np.where(idx >= 0, "measured", "imputed"), "inferred"),
            "dgex_model_input": on_rows(1, 0, np.int64),
            "dgex_symbol": on_rows(lm["symbol"].to_numpy(object), tg["symbol"].to_numpy(object)),
            "dgex_probe_id": np.array(rids, dtype=object),
            "dgex_entrez_id": on_rows(lm["entrez_id"].to_numpy(object), str(CMAP_NULL)),
            "dgex_part": on_rows(CMAP_NULL, tg["part"].to_numpy(np.int64), np.int64),
        })
        source_row = np.full(n, -1)
        source_row[lm_rows] = idx
        meta = _row_meta(dgex, src, source_row)
        return cls(rids, meta, lm_rows, tg_rows, lm["mean"].to_numpy(np.float32), lm["std"].to_numpy(np.float32))

    def fill(self, block: np.ndarray, Z: np.ndarray, infer: Infer, out: np.ndarray) -> None:
        """One output block (profiles x rows) from standardized landmarks Z, in place (the input block is not written)."""
        out[:, self.target_rows] = infer(Z)
        out[:, self.landmark_rows] = Z * self.std + self.mean


OutputRows = Union[MeasuredThenTargets, ProbeRows]


def output_rows(src: GctxStream, bundle: Bundle, idx: np.ndarray) -> OutputRows:
    """The output layout of `bundle` (probe-level: it records its row order) for input `src` matched by `idx`."""
    layout = MeasuredThenTargets if bundle.rows is None else ProbeRows
    return layout.of(src, bundle, idx)
