"""Deduplication of GEO profiles: MiniBatchKMeans clusters, then a greedy distance filter within each cluster."""
from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger(__name__)
METHODS = ("kmeans", "exact")


def _sq_norms(X: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", X, X, dtype=np.float64)


def greedy_keep(X: np.ndarray, threshold: float, block: int = 2048) -> np.ndarray:
    """Keep mask: walk profiles in order, keep one unless it lies closer than `threshold` to a profile kept before it."""
    n = len(X)
    keep = np.zeros(n, dtype=bool)
    dropped = np.zeros(n, dtype=bool)
    norms = _sq_norms(X)
    X64 = X.astype(np.float64, copy=False) if X.dtype == np.float64 else X
    t2 = threshold * threshold
    for b0 in range(0, n, block):
        b1 = min(n, b0 + block)
        # distances from this block's profiles to every later profile, float64 accumulation of the Gram product
        G = (X64[b0:b1] @ X64[b0:].T).astype(np.float64)
        D2 = norms[b0:b1, None] + norms[None, b0:] - 2.0 * G
        close = D2 < t2
        for i in range(b0, b1):
            if dropped[i]:
                continue
            keep[i] = True
            row = close[i - b0]
            row[: i - b0 + 1] = False
            dropped[b0 + np.flatnonzero(row)] = True
    return keep


def cluster_labels(X: np.ndarray, n_clusters: int, seed: int, batch_size: int = 1024) -> np.ndarray:
    """MiniBatchKMeans cluster label of every profile (seeded)."""
    from sklearn.cluster import MiniBatchKMeans

    n_clusters = min(n_clusters, len(X))
    km = MiniBatchKMeans(n_clusters=n_clusters, random_state=seed, batch_size=batch_size, n_init=3)
    return km.fit_predict(X)


def deduplicate(X: np.ndarray, threshold: float = 1.0, method: str = "kmeans", n_clusters: int = 100, seed: int = 0) -> np.ndarray:
    """Boolean keep mask over profiles (rows of X): 'kmeans' as the original code, or 'exact' over all pairs."""
    if method not in METHODS:
        raise ValueError(f"dedup.method must be one of {METHODS}, got {method!r}")
    if threshold <= 0:
        raise ValueError(f"dedup.distance must be > 0, got {threshold}")
    if method == "exact":
        return greedy_keep(X, threshold)
    labels = cluster_labels(X, n_clusters, seed)
    keep = np.zeros(len(X), dtype=bool)
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)  # ascending: "kept before it" follows the file's profile order
        keep[members] = greedy_keep(X[members], threshold)
    log.info("dedup (%s, %d clusters, distance %.3g): kept %d of %d profiles", method, n_clusters, threshold, keep.sum(), len(X))
    return keep
