"""The paper's linear baselines (sections 2.4-2.5): their shared training products, LR and LR-L2 (Ridge), all targets at once.

LR-L1 (Lasso) is in dgex.lasso, KNN-GE in dgex.knn, the choice of their hyper-parameter on validation in dgex.tuning.

Objectives per target gene y (n training profiles x, intercept b never penalized), as the paper writes them:

- LR:    (1/n) sum (y - b - x'w)^2
- LR-L1: (1/n) sum (y - b - x'w)^2 + lambda ||w||_1   (scikit-learn ``Lasso(alpha=lambda / 2)``)
- LR-L2: (1/n) sum (y - b - x'w)^2 + lambda ||w||_2^2 (scikit-learn ``Ridge(alpha=n * lambda)``)
- KNN-GE: the mean of the k landmarks nearest (Euclidean, over the training profiles) to the target gene.

All linear fits work on the centered products X'X / n and X'Y / n (float32 products, float64 sums and solves),
computed in one pass over the training profiles.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np
import scipy.linalg
import scipy.sparse

from .io import InputError
from .matrix import Matrix

LOG = logging.getLogger(__name__)
CONSTANT_EPS = 1e-12  # a centered sum of squares below this (relative to the largest) marks a constant gene


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


@dataclass
class Products:
    """What every linear baseline needs from the training profiles: centered X'X / n, X'Y / n (and Y'Y / n), float64."""

    n: int
    mx: np.ndarray  # (p,) landmark means
    my: np.ndarray  # (T,) target means
    G: np.ndarray  # (p, p) centered X'X / n
    C: np.ndarray  # (p, T) centered X'Y / n
    yy: np.ndarray | None = None  # (T,) centered y'y / n (only for the Lasso's duality gap)

    def model(self, W: np.ndarray) -> LinearModel:
        """The model with slopes W (float64) and the intercepts that go with them."""
        return LinearModel(W.astype(np.float32), (self.my - self.mx @ W).astype(np.float32))

    def constant_landmarks(self) -> np.ndarray:
        """Indices of landmarks with zero variance over the training profiles."""
        d = np.diag(self.G)
        return np.flatnonzero(d <= CONSTANT_EPS * max(1.0, float(d.max(initial=0.0))))


def check_training_shapes(X: np.ndarray, Y: np.ndarray) -> None:
    """Raise ValueError unless X (profiles x landmarks) and Y (profiles x targets) are non-empty and agree."""
    if X.ndim != 2 or Y.ndim != 2 or len(X) != len(Y):
        raise ValueError(f"landmarks {X.shape} and targets {Y.shape} must be 2-D with the same number of profiles")
    if len(X) < 2 or X.shape[1] < 1 or Y.shape[1] < 1:
        raise ValueError(f"need at least 2 training profiles, 1 landmark and 1 target (got {X.shape} and {Y.shape})")


def training_products(X: np.ndarray, Y: np.ndarray, with_yy: bool = False, chunk: int = 16384) -> Products:
    """Centered X'X / n (float64 products) and X'Y / n (float32 products summed in float64), one pass in chunks."""
    check_training_shapes(X, Y)
    n, p = X.shape
    mx = X.mean(axis=0, dtype=np.float64)
    my = Y.mean(axis=0, dtype=np.float64)
    mx32, my32 = mx.astype(np.float32), my.astype(np.float32)
    G = np.zeros((p, p), dtype=np.float64)
    C = np.zeros((p, Y.shape[1]), dtype=np.float64)
    yy = np.zeros(Y.shape[1], dtype=np.float64) if with_yy else None
    for s in range(0, n, chunk):
        Xc = X[s : s + chunk] - mx32
        Xc64 = Xc.astype(np.float64)
        G += Xc64.T @ Xc64
        Yc = Y[s : s + chunk] - my32
        C += Xc.T @ Yc
        if yy is not None:
            np.square(Yc, out=Yc)
            yy += Yc.sum(axis=0, dtype=np.float64)
    G /= n
    C /= n
    if yy is not None:
        yy /= n
    return Products(n, mx, my, G, C, yy)


def check_grid(values: Sequence[float], setting: str, integer: bool = False, upper: float | None = None) -> np.ndarray:
    """A hyper-parameter grid as a sorted array; ValueError naming `setting` if empty, duplicated or out of range."""
    v = np.asarray(list(values), dtype=np.float64)
    if v.size == 0:
        raise ValueError(f"{setting}: the grid is empty; give at least one value")
    if not np.all(np.isfinite(v)) or np.any(v <= 0):
        raise ValueError(f"{setting}: every value must be finite and > 0 (got {list(values)})")
    if integer and np.any(v != np.round(v)):
        raise ValueError(f"{setting}: every value must be an integer (got {list(values)})")
    if upper is not None and np.any(v > upper):
        raise ValueError(f"{setting}: values above {upper:g} are out of range (got {list(values)})")
    if len(np.unique(v)) != len(v):
        raise ValueError(f"{setting}: the grid lists a value twice (got {list(values)})")
    return np.sort(v.astype(np.int64)) if integer else np.sort(v)


def check_landmarks_vary(P: Products, landmarks: Sequence[str], source: str) -> None:
    """InputError naming the constant landmarks of the training profiles (LR cannot fit them)."""
    const = P.constant_landmarks()
    if len(const):
        names = [landmarks[i] for i in const[:10]]
        raise InputError(f"{source}: {len(const)} landmark(s) are constant over the training profiles, "
                         f"so linear regression has no unique solution: {names}")


# --------------------------------------------------------------------------- LR
@dataclass
class OlsFit:
    """An LR fit and how it was solved: the unique solution, or the minimum-norm one when X'X / n is singular."""

    model: LinearModel
    n_train: int
    n_landmarks: int
    rank: int  # numerical rank of the centered training landmarks

    @property
    def min_norm(self) -> bool:
        """True when least squares has many solutions and the one with the smallest slopes was taken."""
        return self.rank < self.n_landmarks

    @property
    def reason(self) -> str:
        """Why the fit is (or is not) the minimum-norm solution, in words."""
        if not self.min_norm:
            return f"unique least-squares solution ({self.n_train} training profiles, {self.n_landmarks} landmarks)"
        why = (f"{self.n_train} training profiles <= {self.n_landmarks} landmarks (underdetermined)"
               if self.n_train <= self.n_landmarks else f"collinear landmarks over {self.n_train} training profiles")
        return (f"{why}: the centered landmarks have rank {self.rank} < {self.n_landmarks}, so least squares has infinitely "
                "many solutions; the minimum-norm one is used (as scikit-learn's LinearRegression)"
                + (" and fits GEO-tr exactly" if self.n_train <= self.n_landmarks else ""))

    def record(self) -> dict:
        """The facts a table needs to mark LR (written to models/lr/solution.json)."""
        return {"method": "lr", "solution": "min_norm" if self.min_norm else "unique", "min_norm": self.min_norm,
                "n_train": self.n_train, "n_landmarks": self.n_landmarks, "rank": self.rank, "reason": self.reason}


def min_norm_solution(G: np.ndarray, C: np.ndarray, max_rank: int) -> tuple[np.ndarray, int]:
    """G^+ C with G symmetric positive semi-definite, keeping at most max_rank eigenvalues above p * eps * the largest.

    For G = Xc'Xc / n and C = Xc'Y / n this is the minimum-norm least-squares solution of Xc W = Y (numpy.linalg.lstsq).
    """
    e, V = scipy.linalg.eigh(G)
    keep = e > G.shape[0] * np.finfo(np.float64).eps * max(float(e[-1]), 0.0)
    keep[: len(e) - max_rank] = False  # eigh sorts ascending; centering leaves rank <= n - 1 (float32 round-off adds tiny ones)
    Vk = V[:, keep]
    return Vk @ ((Vk.T @ C) / e[keep, None]), int(keep.sum())


def ols_fit(P: Products) -> OlsFit:
    """Least squares with intercept for every target from the centered products.

    Full rank: one float64 Cholesky solve. Otherwise (no more profiles than landmarks, collinear landmarks) the
    minimum-norm solution from an eigendecomposition of X'X / n, as scikit-learn's ``LinearRegression`` (lstsq).
    """
    p = P.G.shape[0]
    const = P.constant_landmarks()
    if len(const):
        raise ValueError(f"linear regression: {len(const)} landmark(s) are constant over the training profiles (columns "
                         f"{const[:5].tolist()})")
    if P.n > p:
        e = scipy.linalg.eigvalsh(P.G)
        if e[0] > p * np.finfo(np.float64).eps * e[-1]:
            return OlsFit(P.model(scipy.linalg.solve(P.G, P.C, assume_a="pos")), P.n, p, p)
    W, rank = min_norm_solution(P.G, P.C, min(P.n - 1, p))
    return OlsFit(P.model(W), P.n, p, rank)


def ols_from_products(P: Products) -> LinearModel:
    """Least-squares slopes and intercepts for every target (minimum-norm when not unique), see ols_fit."""
    return ols_fit(P).model


def fit_ols(X: np.ndarray, Y: np.ndarray) -> LinearModel:
    """Ordinary least squares with intercept per target gene, all targets in one float64 solve (minimum-norm if singular)."""
    return ols_from_products(training_products(X, Y))


# --------------------------------------------------------------------------- LR-L2 (Ridge)
def ridge_path(P: Products, lambdas: Sequence[float]) -> Iterator[tuple[float, LinearModel, dict]]:
    """Ridge models (the paper's lambda) for every lambda, from one eigendecomposition of X'X / n."""
    lambdas = check_grid(lambdas, "baselines.lr_l2_lambdas")
    e, V = scipy.linalg.eigh(P.G)
    e = np.clip(e, 0.0, None)
    VtC = V.T @ P.C
    for lam in lambdas:
        yield float(lam), P.model(V @ (VtC / (e + lam)[:, None])), {}


# --------------------------------------------------------------------------- rule helpers
def landmarks_and_targets(m: Matrix) -> tuple[np.ndarray, np.ndarray]:
    """Views (no copy) of a Matrix's landmark and target blocks."""
    return m.values[:, : m.n_landmarks], m.values[:, m.n_landmarks :]


def check_same_genes(train: Matrix, other: Matrix, path: str) -> None:
    """InputError unless `other` has the training split's landmarks and targets, in the same order."""
    if other.landmarks != train.landmarks or other.targets != train.targets:
        raise InputError(f"{path}: landmarks or target genes differ from the training split's")
