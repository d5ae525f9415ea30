"""Baselines: linear regression (one solve for all targets)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg


@dataclass
class LinearModel:
    """Y_hat = X @ W + b for all target genes at once."""

    W: np.ndarray  # (n_landmarks, n_targets) float32
    b: np.ndarray  # (n_targets,) float32

    def predict(self, X: np.ndarray, chunk: int = 8192) -> np.ndarray:
        """Predictions for profiles X (float32)."""
        out = np.empty((len(X), self.W.shape[1]), dtype=np.float32)
        for s in range(0, len(X), chunk):
            np.matmul(X[s : s + chunk], self.W, out=out[s : s + chunk])
            out[s : s + chunk] += self.b
        return out


def centered_products(X: np.ndarray, Y: np.ndarray, chunk: int = 16384) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Column means of X and Y and the centered products X'X (float64) and X'Y, from float32 products in chunks."""
    n = len(X)
    if n <= X.shape[1]:
        raise ValueError(f"linear regression needs more training profiles ({n}) than landmarks ({X.shape[1]})")
    mx = X.mean(axis=0, dtype=np.float64)
    my = Y.mean(axis=0, dtype=np.float64)
    mx32, my32 = mx.astype(np.float32), my.astype(np.float32)
    G = np.zeros((X.shape[1], X.shape[1]), dtype=np.float64)
    C = np.zeros((X.shape[1], Y.shape[1]), dtype=np.float64)
    for s in range(0, n, chunk):
        Xc = X[s : s + chunk] - mx32
        G += Xc.T @ Xc
        C += Xc.T @ (Y[s : s + chunk] - my32)
    return mx, my, G, C


def fit_ols(X: np.ndarray, Y: np.ndarray) -> LinearModel:
    """Ordinary least squares with intercept per target gene, all targets in one float64 solve."""
    mx, my, G, C = centered_products(X, Y)
    const = np.flatnonzero(np.diag(G) <= 1e-12 * max(1.0, float(np.max(np.diag(G)))))
    if len(const):
        raise ValueError(f"linear regression: {len(const)} landmark(s) are constant over the training profiles (columns {const[:5].tolist()})")
    try:
        W = scipy.linalg.solve(G, C, assume_a="pos")
    except (np.linalg.LinAlgError, scipy.linalg.LinAlgError):
        W = scipy.linalg.lstsq(G, C)[0]  # collinear landmarks: minimum-norm solution
    b = my - mx @ W
    return LinearModel(W.astype(np.float32), b.astype(np.float32))
