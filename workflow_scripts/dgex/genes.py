"""Per-gene matrices: probes -> genes for microarrays, Ensembl ids -> genes for RNA-Seq."""
from __future__ import annotations

import logging
import re
from typing import Iterable, Sequence

import numpy as np
import scipy.sparse as sp

from .gctx import Gct
from .io import InputError
from .matrix import Matrix
from .progress import Progress
from .sources import GeneMap

log = logging.getLogger(__name__)
ENSEMBL_VERSION = re.compile(r"^(ENS[A-Z]*\d+)\.\d+(_PAR_Y)?$")  # ENSG..., and ENSGR... (GENCODE PAR_Y copies)
OVERLAP_POLICIES = ("keep", "drop")


def select_targets(lm: GeneMap, tg: GeneMap, overlap: str) -> GeneMap:
    """Apply the policy for targets whose Ensembl id is also a landmark's ('keep' as the paper, or 'drop')."""
    if overlap not in OVERLAP_POLICIES:
        raise ValueError(f"genes.shared_ensembl_ids must be one of {OVERLAP_POLICIES}, got {overlap!r}")
    shared = set(lm.ensembl) & set(tg.ensembl)
    log.info("%d target gene(s) share an Ensembl id with a landmark (policy: %s)", len(shared), overlap)
    if overlap == "keep" or not shared:
        return tg
    keep = [i for i, e in enumerate(tg.ensembl) if e not in shared]
    return GeneMap([tg.symbols[i] for i in keep], [tg.ensembl[i] for i in keep], [tg.probes[i] for i in keep])


def probe_averaging_matrix(probe_ids: Sequence[str], gene_probes: Sequence[Sequence[str]], source: str) -> sp.csr_matrix:
    """Sparse (n_probes x n_genes) matrix whose product with probe values gives each gene's mean over its probes."""
    index = {p: i for i, p in enumerate(probe_ids)}
    missing = sorted({p for ps in gene_probes for p in ps if p not in index})
    if missing:
        raise InputError(f"{source}: {len(missing)} probe(s) of the gene maps are missing, e.g. {missing[:5]}")
    rows, cols, vals = [], [], []
    for j, ps in enumerate(gene_probes):
        for p in ps:
            rows.append(index[p])
            cols.append(j)
            vals.append(1.0 / len(ps))
    return sp.csr_matrix((np.array(vals, dtype=np.float32), (rows, cols)), shape=(len(probe_ids), len(gene_probes)))


def microarray_genes(blocks: Iterable[tuple[int, np.ndarray]], probe_ids: Sequence[str], sample_ids: Sequence[str],
                     lm: GeneMap, tg: GeneMap, source: str) -> Matrix:
    """Landmark and target gene values (mean of each gene's probes) from blocks of probe-level profiles.

    Landmarks and targets each use their own map's probes, also for the Ensembl ids both maps hold (as bgedv2.py).
    """
    if not len(sample_ids):
        raise InputError(f"{source}: no profiles")
    P = probe_averaging_matrix(probe_ids, lm.probes + tg.probes, source).tocsc()
    out = np.empty((len(sample_ids), len(lm) + len(tg)), dtype=np.float32)
    progress = Progress(f"probe means of {source}", len(sample_ids), log=log, unit=" profiles")
    for start, block in blocks:
        out[start : start + len(block)] = np.asarray(block @ P, dtype=np.float32)  # (P^T block^T)^T, sparse
        progress.update(len(block))
    progress.close()
    return Matrix(out, list(sample_ids), lm.ensembl + tg.ensembl, len(lm), {"source": source})


def strip_version(ids: Sequence[str]) -> list[str]:
    """ENSG00000223972.4 -> ENSG00000223972 (PAR_Y copies keep a _PAR_Y suffix so they stay distinct)."""
    out = []
    for i in ids:
        m = ENSEMBL_VERSION.match(i)
        out.append(m.group(1) + (m.group(2) or "") if m else i)
    return out


DUPLICATE_POLICIES = ("first", "mean", "error")


def ensembl_columns(ids: Sequence[str], wanted: Sequence[str], duplicates: str, source: str) -> tuple[list[list[int]], list[str]]:
    """For each wanted Ensembl id, the row(s) of `ids` (version suffixes stripped) whose values make that gene.

    duplicates: what to do when a wanted id occurs on several rows after stripping versions: 'first' row (the original
    code's list.index), 'mean' of the rows, or 'error'. Duplicates among ids that are not wanted are ignored.
    """
    if duplicates not in DUPLICATE_POLICIES:
        raise ValueError(f"genes.duplicate_ensembl_ids must be one of {DUPLICATE_POLICIES}, got {duplicates!r}")
    rows: dict[str, list[int]] = {}
    for i, e in enumerate(strip_version(ids)):
        rows.setdefault(e, []).append(i)
    missing = sorted({e for e in wanted if e not in rows})
    if missing:
        raise InputError(f"{source}: {len(missing)} of {len(set(wanted))} landmark/target gene(s) are missing, "
                         f"e.g. {missing[:5]}")
    dups = sorted({e for e in wanted if len(rows[e]) > 1})
    if dups:
        msg = (f"{source}: {len(dups)} landmark/target Ensembl id(s) occur on several rows after removing version suffixes, "
               f"e.g. {dups[:5]}")
        if duplicates == "error":
            raise InputError(msg + " (genes.duplicate_ensembl_ids: error)")
        log.warning("%s; using the %s", msg, "first row" if duplicates == "first" else "mean of the rows")
    picked = [rows[e][:1] if duplicates == "first" else rows[e] for e in wanted]
    return picked, dups


def rnaseq_genes(gct: Gct, lm: GeneMap, tg: GeneMap, source: str, log_transform: bool = True,
                 duplicates: str = "first") -> Matrix:
    """Landmark and target values from an RNA-Seq RPKM matrix keyed by (versioned) Ensembl id, as log2(RPKM + 1).

    A target sharing a landmark's Ensembl id gets that same RNA-Seq row (the paper's maps: 445 such genes).
    The log transform is monotone, so it changes nothing after quantile normalization; it only eases inspection.
    """
    wanted = lm.ensembl + tg.ensembl
    picked, _ = ensembl_columns(gct.rids, wanted, duplicates, source)
    if not len(gct.cids):
        raise InputError(f"{source}: no samples")
    if all(len(p) == 1 for p in picked):
        values = gct.values[:, [p[0] for p in picked]]
    else:
        values = np.stack([gct.values[:, p].mean(axis=1, dtype=np.float64) for p in picked], axis=1).astype(np.float32)
    if (values < 0).any():
        raise InputError(f"{source}: negative RPKM values")
    if log_transform:
        values = np.log2(values + np.float32(1.0))
    return Matrix(np.asarray(values, dtype=np.float32), list(gct.cids), wanted, len(lm), {"source": source})
