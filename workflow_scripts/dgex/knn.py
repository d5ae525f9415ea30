"""KNN-GE (paper section 2.5): each target gene inferred as the mean of the k landmarks nearest to it over the training
profiles, for every k of a grid from one neighbour search."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np
import scipy.sparse

from .baselines import check_grid, check_training_shapes


def knn_neighbors(X: np.ndarray, Y: np.ndarray, k_max: int, chunk: int = 16384) -> np.ndarray:
    """(targets x k_max) indices of each target's nearest landmarks by Euclidean distance over the profiles, nearest first.

    Squared distances are ||x||^2 + ||y||^2 - 2 x'y with float32 products summed in float64; equal distances keep
    the lower landmark index first (stable sort).
    """
    check_training_shapes(X, Y)
    p = X.shape[1]
    if not 1 <= k_max <= p:
        raise ValueError(f"k={k_max} is out of range: KNN-GE needs 1 <= k <= {p} landmarks")
    xx = np.zeros(p, dtype=np.float64)
    yy = np.zeros(Y.shape[1], dtype=np.float64)
    xy = np.zeros((p, Y.shape[1]), dtype=np.float64)
    for s in range(0, len(X), chunk):
        Xb, Yb = X[s : s + chunk], Y[s : s + chunk]
        xy += Xb.T @ Yb
        xx += np.einsum("ij,ij->j", Xb, Xb, dtype=np.float64)
        yy += np.square(Yb).sum(axis=0, dtype=np.float64)
    d2 = yy[:, None] + xx[None, :] - 2.0 * xy.T  # (T, p)
    return np.argsort(d2, axis=1, kind="stable")[:, :k_max].astype(np.int32)


def _neighbor_sum_matrix(neighbors: np.ndarray, p: int) -> scipy.sparse.csr_matrix:
    """Sparse (targets x landmarks) 0/1 matrix selecting each target's listed neighbors."""
    T, k = neighbors.shape
    data = np.ones(T * k, dtype=np.float32)
    return scipy.sparse.csr_matrix((data, neighbors.ravel(), np.arange(0, T * k + 1, k)), shape=(T, p))


def knn_predictions(X: np.ndarray, neighbors: np.ndarray, ks: Sequence[int]) -> Iterator[tuple[int, np.ndarray]]:
    """KNN-GE predictions (profiles x targets, float32) for each k of the grid, adding neighbors incrementally."""
    ks = check_grid(ks, "baselines.knn_k", integer=True, upper=neighbors.shape[1])
    XT = np.ascontiguousarray(X.T, dtype=np.float32)  # (p, n): sparse @ dense reads whole landmark rows
    total = np.zeros((neighbors.shape[0], X.shape[0]), dtype=np.float32)  # (T, n) running neighbor sums
    prev = 0
    for k in ks:
        total += _neighbor_sum_matrix(np.ascontiguousarray(neighbors[:, prev:k]), X.shape[1]) @ XT
        prev = int(k)
        out = np.empty((X.shape[0], neighbors.shape[0]), dtype=np.float32)
        np.divide(total.T, np.float32(k), out=out)
        yield int(k), out


@dataclass
class KnnModel:
    """KNN-GE: each target predicted as the mean of its k nearest landmarks."""

    neighbors: np.ndarray  # (n_targets, k) landmark indices

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predictions for profiles X (float32)."""
        k = self.neighbors.shape[1]
        return next(knn_predictions(X, self.neighbors, [k]))[1]


