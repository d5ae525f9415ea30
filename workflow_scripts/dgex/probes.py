"""The probe-level LINCS model (paper section 3.4): the L1000 chip's landmark probes -> every other probe of the compendium.

Training data: `probe_maps` turns the chip and the compendium's probe ids into one-probe gene maps, so that the gene-level
code (`dgex.genes.microarray_genes`) builds the matrix and everything after it is unchanged. Inference lays the output
out in the compendium's probe order (`dgex.output_rows.ProbeRows`).
"""
from __future__ import annotations

from typing import Sequence

import pandas as pd

from .gctx import CMAP_NULL
from .io import InputError
from .sources import GeneMap

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
