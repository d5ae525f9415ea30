"""Per-gene matrices: probes -> genes for microarrays, Ensembl ids -> genes for RNA-Seq."""
from __future__ import annotations

import logging
import re
from typing import Iterable, Sequence

import numpy as np
import scipy.sparse as sp

from .io import Gct, GeneMap, InputError
from .matrix import Matrix

log = logging.getLogger(__name__)
ENSEMBL_VERSION = re.compile(r"^(ENS[A-Z]*G\d+)\.\d+(_PAR_Y)?$")
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
    """Landmark and target gene values (mean of each gene's probes) from blocks of probe-level profiles."""
    P = probe_averaging_matrix(probe_ids, lm.probes + tg.probes, source).tocsc()
    out = np.empty((len(sample_ids), len(lm) + len(tg)), dtype=np.float32)
    for start, block in blocks:
        out[start : start + len(block)] = np.asarray(block @ P, dtype=np.float32)  # (P^T block^T)^T, sparse
    return Matrix(out, list(sample_ids), lm.ensembl + tg.ensembl, len(lm), {"source": source})


def strip_version(ids: Sequence[str]) -> list[str]:
    """ENSG00000223972.4 -> ENSG00000223972 (PAR_Y copies keep a _PAR_Y suffix so they stay distinct)."""
    out = []
    for i in ids:
        m = ENSEMBL_VERSION.match(i)
        out.append(m.group(1) + (m.group(2) or "") if m else i)
    return out


def rnaseq_genes(gct: Gct, lm: GeneMap, tg: GeneMap, source: str, log_transform: bool = True) -> Matrix:
    """Landmark and target values from an RNA-Seq RPKM matrix keyed by (versioned) Ensembl id, as log2(RPKM + 1)."""
    ids = strip_version(gct.rids)
    index: dict[str, int] = {}
    dups = []
    for i, e in enumerate(ids):
        if e in index:
            dups.append(e)
        else:
            index[e] = i
    if dups:
        raise InputError(f"{source}: {len(dups)} Ensembl id(s) occur twice after removing version suffixes, e.g. {dups[:5]}")
    wanted = lm.ensembl + tg.ensembl
    missing = sorted({e for e in wanted if e not in index})
    if missing:
        raise InputError(f"{source}: {len(missing)} landmark/target gene(s) are missing, e.g. {missing[:5]}")
    values = gct.values[:, [index[e] for e in wanted]]
    if (values < 0).any():
        raise InputError(f"{source}: negative RPKM values")
    if log_transform:
        values = np.log2(values + 1.0)
    return Matrix(values.astype(np.float32), list(gct.cids), wanted, len(lm), {"source": source})
