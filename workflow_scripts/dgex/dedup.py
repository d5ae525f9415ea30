"""Deduplication of GEO profiles: MiniBatchKMeans clusters, then a distance filter within each cluster.

The original code (kmeans.py, nodup_idx.py) clusters all 129,158 profiles over all 22,268 probes into 100 clusters and,
within each cluster (profiles in file order), drops every profile closer than Euclidean distance 1.0 to an earlier
profile of the cluster ('original' rule; 111,009 profiles remain). The 'greedy' rule drops a profile only when the
earlier close profile was itself kept. Profiles are read in blocks, so the whole compendium is never in memory.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Iterator, Protocol

import numpy as np

from .io import InputError
from .progress import Progress

log = logging.getLogger(__name__)
METHODS = ("kmeans", "exact")
RULES = ("original", "greedy")
GRAM_TOL = 2e-3  # float32 Gram-product error bound, relative to |x|^2 + |y|^2; candidates are re-checked in float64


class ProfileSource(Protocol):
    """Profiles (rows) x features, readable in contiguous blocks (an array, or a GCTX file through gctx.GctxReader)."""

    n_profiles: int
    n_features: int
    block_rows: int

    def read(self, start: int, stop: int) -> np.ndarray: ...


@dataclass
class ArraySource:
    """An in-memory profiles x features matrix as a ProfileSource."""

    X: np.ndarray
    block_rows: int = 4096

    @property
    def n_profiles(self) -> int:
        return len(self.X)

    @property
    def n_features(self) -> int:
        return self.X.shape[1]

    def read(self, start: int, stop: int) -> np.ndarray:
        return np.asarray(self.X[start:stop], dtype=np.float32)


def blocks(src: ProfileSource, order: np.ndarray | None = None, label: str = "dedup pass") -> Iterator[tuple[int, np.ndarray]]:
    """(start, block) over the whole source; `order` permutes the block sequence; the pass's progress is logged as `label`."""
    starts = np.arange(0, src.n_profiles, src.block_rows)
    progress = Progress(label, src.n_profiles, log=log, unit=" profiles")
    for s in starts if order is None else starts[order]:
        block = src.read(int(s), min(src.n_profiles, int(s) + src.block_rows))
        yield int(s), block
        progress.update(len(block))
    progress.close()


# --------------------------------------------------------------------------- distance filter
def close_pairs(X: np.ndarray, threshold: float, block: int = 1024) -> np.ndarray:
    """All pairs (i, j), i < j, of rows of X at Euclidean distance < threshold, as an (m, 2) int64 array.

    Candidates come from a float32 Gram product on centered rows (BLAS speed) with a margin that covers its rounding
    error; each candidate is then re-measured exactly in float64, so the result equals float64 all-pairs distances.
    """
    n = len(X)
    if n < 2:
        return np.empty((0, 2), dtype=np.int64)
    Xc = np.asarray(X, dtype=np.float32) - X.mean(axis=0, dtype=np.float64).astype(np.float32)
    sq = np.einsum("ij,ij->i", Xc, Xc, dtype=np.float64)
    t2 = float(threshold) ** 2
    found = []
    for b0 in range(0, n, block):
        b1 = min(n, b0 + block)
        G = Xc[b0:b1] @ Xc[b0:].T
        s = sq[b0:b1, None] + sq[None, b0:]
        cand = s - 2.0 * G < t2 + GRAM_TOL * s
        cand[:, : b1 - b0] &= np.triu(np.ones((b1 - b0, b1 - b0), dtype=bool), k=1)
        i, j = np.nonzero(cand)
        if len(i):
            found.append(np.stack([i + b0, j + b0], axis=1))
    if not found:
        return np.empty((0, 2), dtype=np.int64)
    pairs = np.concatenate(found).astype(np.int64)
    d2 = np.empty(len(pairs), dtype=np.float64)
    for s in range(0, len(pairs), 4096):
        p = pairs[s : s + 4096]
        diff = X[p[:, 0]].astype(np.float64) - X[p[:, 1]].astype(np.float64)
        d2[s : s + 4096] = np.einsum("ij,ij->i", diff, diff)
    return pairs[d2 < t2]


def keep_from_pairs(n: int, pairs: np.ndarray, rule: str = "original") -> np.ndarray:
    """Keep mask over n profiles in order, given their close pairs (i < j).

    'original': drop j when any earlier profile i is close to it (nodup_idx.py); 'greedy': only when i was kept.
    """
    if rule not in RULES:
        raise ValueError(f"dedup.rule must be one of {RULES}, got {rule!r}")
    dropped = np.zeros(n, dtype=bool)
    if rule == "original":
        dropped[pairs[:, 1]] = True
        return ~dropped
    pairs = pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]
    firsts, starts = np.unique(pairs[:, 0], return_index=True)
    ends = np.append(starts[1:], len(pairs))
    for i, s, e in zip(firsts, starts, ends):  # only profiles that have a close later profile
        if not dropped[i]:
            dropped[pairs[s:e, 1]] = True
    return ~dropped


def greedy_keep(X: np.ndarray, threshold: float, block: int = 1024, rule: str = "greedy") -> np.ndarray:
    """Keep mask: walk profiles in order and drop one closer than `threshold` to an earlier (kept, for 'greedy') one."""
    return keep_from_pairs(len(X), close_pairs(X, threshold, block), rule)


# --------------------------------------------------------------------------- k-means, streamed
def _init_sample(src: ProfileSource, size: int, rng: np.random.Generator) -> np.ndarray:
    """A uniform random sample of `size` profiles, gathered in one pass over the source."""
    rows = np.sort(rng.choice(src.n_profiles, size=min(size, src.n_profiles), replace=False))
    out = np.empty((len(rows), src.n_features), dtype=np.float32)
    done = 0
    for start, block in blocks(src, label="dedup k-means++ sample"):
        sel = rows[(rows >= start) & (rows < start + len(block))]
        out[done : done + len(sel)] = block[sel - start]
        done += len(sel)
    return out


def kmeans_labels(src: ProfileSource, n_clusters: int, seed: int, batch_size: int = 1000, epochs: int = 2) -> np.ndarray:
    """Seeded MiniBatchKMeans over the source in mini-batches (blocks in random order, rows shuffled), then labels."""
    from sklearn.cluster import MiniBatchKMeans, kmeans_plusplus

    rng = np.random.default_rng(seed)
    k = min(n_clusters, src.n_profiles)
    sample = _init_sample(src, max(3 * batch_size, 3 * k), rng)  # sklearn's init_size default: 3 x batch_size
    log.info("dedup k-means++: %d initial centers from a sample of %d profiles", k, len(sample))  # no pass over the file
    centers, _ = kmeans_plusplus(sample, k, random_state=seed)
    km = MiniBatchKMeans(n_clusters=k, init=centers, n_init=1, batch_size=batch_size, random_state=seed)
    n_blocks = -(-src.n_profiles // src.block_rows)
    for epoch in range(epochs):
        for _, block in blocks(src, rng.permutation(n_blocks), label=f"dedup k-means epoch {epoch + 1}/{epochs}"):
            block = block[rng.permutation(len(block))]
            for b in range(0, len(block), batch_size):
                if b == 0 or len(block) - b >= k:  # partial_fit needs at least k rows in a batch
                    km.partial_fit(block[b : b + batch_size])
    labels = np.empty(src.n_profiles, dtype=np.int64)
    for start, block in blocks(src, label="dedup k-means labels"):
        labels[start : start + len(block)] = km.predict(block)
    return labels


def cluster_groups(labels: np.ndarray, n_features: int, budget_bytes: int) -> list[list[int]]:
    """Clusters packed into groups whose float32 profiles fit in `budget_bytes` (one pass over the file per group)."""
    sizes = np.bincount(labels)
    per_row = 4 * n_features
    groups: list[list[int]] = []
    used = budget_bytes + 1
    for c in np.flatnonzero(sizes):
        need = int(sizes[c]) * per_row
        if need > budget_bytes:
            log.warning("cluster %d holds %d profiles (%.1f GB), more than the memory budget", c, sizes[c], need / 1e9)
        if used + need > budget_bytes:
            groups.append([])
            used = 0
        groups[-1].append(int(c))
        used += need
    return groups


def filter_clusters(src: ProfileSource, labels: np.ndarray, threshold: float, rule: str,
                    budget_bytes: int = 6 << 30) -> np.ndarray:
    """Keep mask: the distance filter within each cluster, profiles in source order, clusters gathered in groups."""
    keep = np.zeros(src.n_profiles, dtype=bool)
    groups = cluster_groups(labels, src.n_features, budget_bytes)
    for g, group in enumerate(groups):
        in_group = np.isin(labels, group)
        rows = np.flatnonzero(in_group)
        # rows of the group, ordered by cluster, then by position in the source (stable sort)
        order = np.argsort(labels[rows], kind="stable")
        slot = np.empty(len(rows), dtype=np.int64)
        slot[order] = np.arange(len(rows))
        slot_of = np.full(src.n_profiles, -1, dtype=np.int64)
        slot_of[rows] = slot
        data = np.empty((len(rows), src.n_features), dtype=np.float32)
        name = f"dedup group {g + 1}/{len(groups)} ({len(group)} clusters, {len(rows)} profiles)"
        for start, block in blocks(src, label=f"{name}: reading"):
            s = slot_of[start : start + len(block)]
            mine = s >= 0
            data[s[mine]] = block[mine]
        sorted_rows = rows[order]
        bounds = np.searchsorted(labels[sorted_rows], group + [labels.max() + 1])
        filtering = Progress(f"{name}: distance filter", len(rows), log=log, unit=" profiles")
        for b0, b1 in zip(bounds[:-1], bounds[1:]):
            keep[sorted_rows[b0:b1]] = greedy_keep(data[b0:b1], threshold, rule=rule)
            filtering.update(int(b1 - b0))
        filtering.close()
        del data
    return keep


def check_n_clusters(n_clusters: int, n_profiles: int, what: str = "the compendium") -> None:
    """ValueError naming dedup.n_clusters unless k-means has fewer clusters than profiles (else nothing is deduplicated)."""
    if n_clusters >= n_profiles:
        raise ValueError(f"dedup.n_clusters={n_clusters} is not below the {n_profiles} profiles of {what}: every profile "
                         f"would be its own cluster and no duplicate could be found; set dedup.n_clusters below "
                         f"{n_profiles} (e.g. {max(1, n_profiles // 20)}) or dedup.method: exact (all pairs, for small "
                         "compendia)")


def deduplicate(X: np.ndarray | ProfileSource, threshold: float = 1.0, method: str = "kmeans", n_clusters: int = 100,
                seed: int = 0, rule: str = "original", batch_size: int = 1000, epochs: int = 2,
                budget_bytes: int = 6 << 30) -> np.ndarray:
    """Boolean keep mask over profiles (rows of X or of a ProfileSource): 'kmeans' as the original code, or 'exact'."""
    if method not in METHODS:
        raise ValueError(f"dedup.method must be one of {METHODS}, got {method!r}")
    if rule not in RULES:
        raise ValueError(f"dedup.rule must be one of {RULES}, got {rule!r}")
    if threshold <= 0:
        raise ValueError(f"dedup.distance must be > 0, got {threshold}")
    src = ArraySource(np.asarray(X, dtype=np.float32)) if isinstance(X, np.ndarray) else X
    if src.n_profiles == 0:
        raise InputError("deduplication: the compendium holds no profiles")
    labels = np.zeros(src.n_profiles, dtype=np.int64)
    if method == "kmeans":
        check_n_clusters(n_clusters, src.n_profiles)
        labels = kmeans_labels(src, n_clusters, seed, batch_size, epochs)
        log.info("k-means cluster sizes: min %d, median %d, max %d", *np.percentile(np.bincount(labels), [0, 50, 100]))
    keep = filter_clusters(src, labels, threshold, rule, budget_bytes)
    log.info("dedup (%s, rule %s, distance %.3g): kept %d of %d profiles", method, rule, threshold, keep.sum(), len(keep))
    return keep
