"""Deduplication of GEO profiles: MiniBatchKMeans clusters, then a distance filter within each cluster.

The original code (kmeans.py, nodup_idx.py) clusters all 129,158 profiles over all 22,268 probes into 100 clusters and,
within each cluster (profiles in file order), drops every profile closer than Euclidean distance 1.0 to an earlier
profile of the cluster ('original' rule; 111,009 profiles remain). The 'greedy' rule drops a profile only when the
earlier close profile was itself kept. Profiles are read in blocks, so the whole compendium is never in memory.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Callable, Iterator, Protocol

import numpy as np

from .io import InputError
from .progress import Progress

log = logging.getLogger(__name__)
METHODS = ("kmeans", "exact")
RULES = ("original", "greedy")
SKETCH_FEATURES = 256  # features of the candidate search: their partial distance bounds the full one from below
SKETCH_TOL = 1e-9  # allowance on float64 sketch distances, relative (their rounding error is about 1e-14 of them)


class ProfileSource(Protocol):
    """Profiles (rows) x features, readable in contiguous blocks (an array, or a GCTX file through gctx.GctxReader)."""

    n_profiles: int
    n_features: int
    block_rows: int

    def read(self, start: int, stop: int, out: np.ndarray | None = None) -> np.ndarray:
        """Profiles start..stop-1 as float32, possibly in the leading rows of `out` (a buffer the caller reuses)."""


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

    def read(self, start: int, stop: int, out: np.ndarray | None = None) -> np.ndarray:
        return np.asarray(self.X[start:stop], dtype=np.float32)


def blocks(src: ProfileSource, order: np.ndarray | None = None, label: str = "dedup pass") -> Iterator[tuple[int, np.ndarray]]:
    """(start, block) over the whole source, or over the blocks `order` indexes in that order (a permutation: every
    block); the pass's progress is logged as `label`.

    Every block may be read into the same buffer: use each before asking for the next.
    """
    starts = np.arange(0, src.n_profiles, src.block_rows)
    starts = starts if order is None else starts[order]
    total = int((np.minimum(starts + src.block_rows, src.n_profiles) - starts).sum())
    progress = Progress(label, total, log=log, unit=" profiles")
    buf = np.empty((min(src.block_rows, src.n_profiles), src.n_features), dtype=np.float32)
    for s in starts:
        block = src.read(int(s), min(src.n_profiles, int(s) + src.block_rows), buf)
        yield int(s), block
        progress.update(len(block))
    progress.close()


# --------------------------------------------------------------------------- distance filter
def sketch_features(src: ProfileSource, m: int = SKETCH_FEATURES) -> np.ndarray:
    """The `m` features of largest variance over the source's first block (sorted): the sketch of the candidate search."""
    if src.n_features <= m:
        return np.arange(src.n_features)
    var = src.read(0, min(src.n_profiles, src.block_rows)).var(axis=0, dtype=np.float64)
    return np.sort(np.argsort(-var, kind="stable")[:m])


def sketch_pairs(S: np.ndarray, threshold: float, block: int = 1024) -> np.ndarray:
    """Pairs (i, j), i < j, of rows of the sketch S closer than `threshold`, as an (m, 2) int64 array: candidates.

    A sum of squares over some features is a lower bound of the sum over all of them, so these pairs include every pair
    closer than `threshold` over all features. The float64 Gram product on centered rows gets an allowance far above
    its rounding error (about n_features x 1.1e-16 of |x|^2 + |y|^2).
    """
    n = len(S)
    if n < 2:
        return np.empty((0, 2), dtype=np.int64)
    Sc = np.asarray(S, dtype=np.float64) - S.mean(axis=0, dtype=np.float64)
    sq = np.einsum("ij,ij->i", Sc, Sc)
    t2 = float(threshold) ** 2 * (1 + SKETCH_TOL)
    found = []
    for b0 in range(0, n, block):
        b1 = min(n, b0 + block)
        s = sq[b0:b1, None] + sq[None, b0:]
        cand = s - 2.0 * (Sc[b0:b1] @ Sc[b0:].T) < t2 + SKETCH_TOL * s
        cand[:, : b1 - b0] &= np.triu(np.ones((b1 - b0, b1 - b0), dtype=bool), k=1)
        i, j = np.nonzero(cand)
        if len(i):
            found.append(np.stack([i + b0, j + b0], axis=1))
    return np.concatenate(found).astype(np.int64) if found else np.empty((0, 2), dtype=np.int64)


def pair_groups(pairs: np.ndarray, max_rows: int) -> list[np.ndarray]:
    """Consecutive runs of `pairs` whose distinct rows number at most `max_rows` (at least one pair per run)."""
    groups, first, held = [], 0, set()
    for k, (i, j) in enumerate(pairs.tolist()):
        new = (i not in held) + (j not in held and j != i)
        if held and len(held) + new > max_rows:
            groups.append(pairs[first:k])
            first, held = k, set()
        held.update((i, j))
    if len(pairs):
        groups.append(pairs[first:])
    return groups


def verify_pairs(src: ProfileSource, pairs: np.ndarray, threshold: float, budget_bytes: int = 6 << 30,
                 label: str = "dedup verification") -> np.ndarray:
    """The candidate pairs whose float64 distance over all features is below `threshold`.

    Their profiles are gathered in groups that fit `budget_bytes`, each in one pass over only the blocks holding them.
    """
    if not len(pairs):
        return pairs
    groups = pair_groups(pairs, max(2, budget_bytes // (4 * src.n_features)))
    t2 = float(threshold) ** 2
    close = []
    for g, group in enumerate(groups):
        rows = np.unique(group)
        data = np.empty((len(rows), src.n_features), dtype=np.float32)
        name = f"{label} {g + 1}/{len(groups)} ({len(group)} candidate pairs of {len(rows)} profiles)"
        for s, block in blocks(src, np.unique(rows // src.block_rows), label=name):  # only the blocks holding them
            lo, hi = np.searchsorted(rows, [s, s + len(block)])
            data[lo:hi] = block[rows[lo:hi] - s]
        p = np.searchsorted(rows, group)
        d2 = np.empty(len(p), dtype=np.float64)
        for s in range(0, len(p), 4096):
            diff = data[p[s : s + 4096, 0]].astype(np.float64) - data[p[s : s + 4096, 1]].astype(np.float64)
            d2[s : s + 4096] = np.einsum("ij,ij->i", diff, diff)
        close.append(group[d2 < t2])
        del data
    return np.concatenate(close)


def close_pairs(X: np.ndarray, threshold: float, block: int = 1024) -> np.ndarray:
    """All pairs (i, j), i < j, of rows of X at Euclidean distance < threshold, as an (m, 2) int64 array.

    Candidates from a sketch of the features (a lower bound of the distance), each re-measured exactly in float64, so the
    result equals float64 all-pairs distances.
    """
    src = ArraySource(np.asarray(X, dtype=np.float32))
    return verify_pairs(src, sketch_pairs(src.X[:, sketch_features(src)], threshold, block), threshold)


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


def cluster_candidates(S: np.ndarray, labels: np.ndarray, threshold: float) -> np.ndarray:
    """Candidate pairs (i < j, source positions) within each cluster, from the sketch S of every profile."""
    order = np.argsort(labels, kind="stable")  # by cluster, then by position in the source
    bounds = np.flatnonzero(np.diff(labels[order])) + 1
    found = [rows[sketch_pairs(S[rows], threshold)] for rows in np.split(order, bounds) if len(rows) > 1]
    found = [f for f in found if len(f)]
    return np.concatenate(found) if found else np.empty((0, 2), dtype=np.int64)


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


def _upcast_sq_distances(Xc: np.ndarray, Y: np.ndarray, cache: dict | None = None) -> np.ndarray:
    """sklearn's squared Euclidean distances for float32 rows (pairwise._euclidean_distances_upcast: float64 chunks).

    `cache` keeps Y's float64 chunks and their norms between calls with the same number of rows in Xc.
    """
    nx, ny, d = len(Xc), len(Y), Y.shape[1]
    maxmem = max(((nx + ny) * d + nx * ny) / 10, 10 * 2**17)
    batch = max(int((-2 * d + math.sqrt((2 * d) ** 2 + 4 * maxmem)) / 2), 1)
    chunks = None if cache is None else cache.get(batch)
    if chunks is None:
        chunks = []
        for y0 in range(0, ny, batch):
            Yc = Y[y0 : y0 + batch].astype(np.float64)
            chunks.append((y0, Yc, np.einsum("ij,ij->i", Yc, Yc)[None, :]))
        if cache is not None:
            cache[batch] = chunks
    out = np.empty((nx, ny), dtype=np.float32)
    for x0 in range(0, nx, batch):
        Xb = Xc[x0 : x0 + batch].astype(np.float64)
        XX = np.einsum("ij,ij->i", Xb, Xb)[:, None]
        for y0, Yc, YY in chunks:
            dist = -2 * (Xb @ Yc.T)
            dist += XX
            dist += YY
            out[x0 : x0 + batch, y0 : y0 + len(Yc)] = dist.astype(np.float32, copy=False)
    return np.maximum(out, 0, out=out)


def kmeans_plusplus(X: np.ndarray, n_clusters: int, seed: int) -> np.ndarray:
    """sklearn.cluster.kmeans_plusplus(X, n_clusters, random_state=seed)[0] for float32 X, the same bits.

    sklearn upcasts X to float64 chunk by chunk for each of the n_clusters x (2 + log k) distance rows; here each chunk
    is upcast once, which takes the k-means++ step from minutes to seconds on a 3000 x 22,268 sample. Its products have
    only 2 + log k rows, so BLAS runs on one thread (threads only spin on them; each element's sum is the same either way).
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, user_api="blas"):
        return _kmeans_plusplus(np.ascontiguousarray(X, dtype=np.float32), n_clusters, seed)


def _kmeans_plusplus(X: np.ndarray, n_clusters: int, seed: int) -> np.ndarray:
    """kmeans_plusplus's loop (sklearn.cluster._kmeans._kmeans_plusplus with unit sample weights)."""
    n = len(X)
    if n < n_clusters:
        raise ValueError(f"n_samples={n} should be >= n_clusters={n_clusters}.")
    rs = np.random.RandomState(seed)
    weight = np.ones(n, dtype=X.dtype)
    trials = 2 + int(np.log(n_clusters))
    centers = np.empty((n_clusters, X.shape[1]), dtype=X.dtype)
    center_id = rs.choice(n, p=weight / weight.sum())
    centers[0] = X[center_id]
    closest = _upcast_sq_distances(X[[center_id]], X)
    pot = closest @ weight
    cache: dict = {}
    for c in range(1, n_clusters):
        rand_vals = rs.uniform(size=trials) * pot
        ids = np.searchsorted(np.cumsum(weight * closest), rand_vals)
        np.clip(ids, None, closest.size - 1, out=ids)
        dist = _upcast_sq_distances(X[ids], X, cache)
        np.minimum(closest, dist, out=dist)
        pots = dist @ weight.reshape(-1, 1)
        best = np.argmin(pots)
        pot = pots[best]
        closest = dist[best]
        centers[c] = X[ids[best]]
    return centers


def kmeans_labels(src: ProfileSource, n_clusters: int, seed: int, batch_size: int = 1000, epochs: int = 2,
                  tap: Callable[[int, np.ndarray], None] | None = None) -> np.ndarray:
    """Seeded MiniBatchKMeans over the source in mini-batches (blocks in random order, rows shuffled), then labels.

    `tap(start, block)` sees every block of the labelling pass (the sketch is gathered there, saving a pass).
    """
    from sklearn.cluster import MiniBatchKMeans

    rng = np.random.default_rng(seed)
    k = min(n_clusters, src.n_profiles)
    sample = _init_sample(src, max(3 * batch_size, 3 * k), rng)  # sklearn's init_size default: 3 x batch_size
    log.info("dedup k-means++: %d initial centers from a sample of %d profiles", k, len(sample))  # no pass over the file
    centers = kmeans_plusplus(sample, k, seed)
    del sample
    # compute_labels=False: partial_fit would label each mini-batch a second time for labels_, which nothing reads
    km = MiniBatchKMeans(n_clusters=k, init=centers, n_init=1, batch_size=batch_size, random_state=seed, compute_labels=False)
    n_blocks = -(-src.n_profiles // src.block_rows)
    shuffled = np.empty((min(src.block_rows, src.n_profiles), src.n_features), dtype=np.float32)
    for epoch in range(epochs):
        for _, block in blocks(src, rng.permutation(n_blocks), label=f"dedup k-means epoch {epoch + 1}/{epochs}"):
            block = np.take(block, rng.permutation(len(block)), axis=0, out=shuffled[: len(block)])
            for b in range(0, len(block), batch_size):
                if b == 0 or len(block) - b >= k:  # partial_fit needs at least k rows in a batch
                    km.partial_fit(block[b : b + batch_size])
    labels = np.empty(src.n_profiles, dtype=np.int64)
    for start, block in blocks(src, label="dedup k-means labels"):
        labels[start : start + len(block)] = km.predict(block)
        if tap is not None:
            tap(start, block)
    return labels


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
    columns = sketch_features(src)
    S = np.empty((src.n_profiles, len(columns)), dtype=np.float32)

    def tap(start: int, block: np.ndarray) -> None:
        S[start : start + len(block)] = block[:, columns]

    if method == "kmeans":
        check_n_clusters(n_clusters, src.n_profiles)
        labels = kmeans_labels(src, n_clusters, seed, batch_size, epochs, tap)
        log.info("k-means cluster sizes: min %d, median %d, max %d", *np.percentile(np.bincount(labels), [0, 50, 100]))
    else:
        labels = np.zeros(src.n_profiles, dtype=np.int64)
        for start, block in blocks(src, label="dedup sketch"):
            tap(start, block)
    candidates = cluster_candidates(S, labels, threshold)
    log.info("dedup: %d candidate pairs within clusters from a sketch of %d features", len(candidates), len(columns))
    keep = keep_from_pairs(src.n_profiles, verify_pairs(src, candidates, threshold, budget_bytes), rule)
    log.info("dedup (%s, rule %s, distance %.3g): kept %d of %d profiles", method, rule, threshold, keep.sum(), len(keep))
    return keep
