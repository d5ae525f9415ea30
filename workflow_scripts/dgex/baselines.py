"""The paper's baselines (sections 2.4-2.5): LR, LR-L1 (Lasso), LR-L2 (Ridge) and KNN-GE, each for all targets at once.

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
from typing import Iterable, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd
import scipy.linalg
import scipy.sparse
from threadpoolctl import ThreadpoolController

from .io import InputError
from .matrix import Matrix

LOG = logging.getLogger(__name__)
CONSTANT_EPS = 1e-12  # a centered sum of squares below this (relative to the largest) marks a constant gene
SATURATED = 0.999  # share of the training variance explained at which a Lasso path stops when n <= p (glmnet's devmax)


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
        raise ValueError(f"linear regression: {len(const)} landmark(s) are constant over the training profiles (columns {const[:5].tolist()})")
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


# --------------------------------------------------------------------------- LR-L1 (Lasso)
def _lasso_primal(Wa: np.ndarray, Ra: np.ndarray, Ca: np.ndarray, yya: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(1/2n)||r||^2 + alpha ||w||_1 per target, with ||r||^2 / n and w'R (R = X'r / n), from the Gram quantities."""
    wR = np.einsum("jt,jt->t", Wa, Ra)
    rr = yya - np.einsum("jt,jt->t", Ca, Wa) - wR
    return 0.5 * rr + alpha * np.abs(Wa).sum(axis=0), rr, wR


def _lasso_gap(Wa: np.ndarray, Ra: np.ndarray, Ca: np.ndarray, yya: np.ndarray, alpha: float) -> np.ndarray:
    """Duality gap per target of (1/2n)||r||^2 + alpha ||w||_1 (dual point: the residual scaled to be feasible)."""
    primal, rr, wR = _lasso_primal(Wa, Ra, Ca, yya, alpha)
    dual_norm = np.abs(Ra).max(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(dual_norm > alpha, alpha / dual_norm, 1.0)
    return primal - (s * (rr + wR) - 0.5 * s * s * rr)


def _cd_sweep(G: np.ndarray, diag: np.ndarray, coords: np.ndarray, Wa: np.ndarray, Ra: np.ndarray, alpha: float,
              block: int, ctl: ThreadpoolController) -> None:
    """One cyclic coordinate-descent sweep over `coords` for all targets (columns) at once, in place.

    Within a block, a coordinate's R = X'r/n row is brought up to date from the block's earlier changes
    (a small product, one BLAS thread); the other rows get the block's change in one matrix product, so the
    sweep is exact cyclic coordinate descent.
    """
    for b0 in range(0, len(coords), block):
        blk = coords[b0 : b0 + block]
        Gb = G[np.ix_(blk, blk)]
        Rb = Ra[blk]
        Wold = Wa[blk]
        dW = np.zeros_like(Wold)
        with ctl.limit(limits=1, user_api="blas"):
            for i, j in enumerate(blk):
                rho = Rb[i] + diag[j] * Wold[i]
                if i:
                    rho -= Gb[i, :i] @ dW[:i]
                w = np.maximum(rho - alpha, 0.0)  # soft threshold (np.clip's overhead is larger at this size)
                w += np.minimum(rho + alpha, 0.0)
                w /= diag[j]
                np.subtract(w, Wold[i], out=dW[i])
        moved = np.flatnonzero(dW.any(axis=1))
        if len(moved):
            Wa[blk] = Wold + dW
            Ra -= G[:, blk[moved]] @ dW[moved]


def _anderson_step(G: np.ndarray, Ca: np.ndarray, yya: np.ndarray, Wa: np.ndarray, Ra: np.ndarray, hist: list[np.ndarray],
                   alpha: float) -> int:
    """Anderson extrapolation of the last sweeps' iterates, kept for the targets whose objective it lowers (in place).

    The coefficients c (summing to 1) minimize ||sum_k c_k (w_k+1 - w_k)|| per target; Bertrand & Massias (2021)
    show this speeds coordinate descent up most where landmarks are strongly correlated.
    """
    K = len(hist) - 1
    U = [hist[k + 1] - hist[k] for k in range(K)]
    UU = np.empty((Wa.shape[1], K, K))
    for k in range(K):
        for m in range(k, K):
            UU[:, k, m] = UU[:, m, k] = np.einsum("jt,jt->t", U[k], U[m])
    reg = 1e-10 * np.trace(UU, axis1=1, axis2=2) + 1e-280
    with np.errstate(all="ignore"):
        z = np.linalg.solve(UU + reg[:, None, None] * np.eye(K), np.ones((Wa.shape[1], K, 1)))[..., 0]
        c = z / z.sum(axis=1, keepdims=True)
    ok = np.isfinite(c).all(axis=1)
    if not ok.any():
        return 0
    c[~ok] = 0.0
    c[~ok, -1] = 1.0
    We = sum(c[:, k] * hist[k + 1] for k in range(K))
    Re = Ca - G @ We
    better = ok & (_lasso_primal(We, Re, Ca, yya, alpha)[0] < _lasso_primal(Wa, Ra, Ca, yya, alpha)[0])
    Wa[:, better] = We[:, better]
    Ra[:, better] = Re[:, better]
    return int(better.sum())


def _newton_step(Gv: np.ndarray, Hv: np.ndarray, valid: np.ndarray, G: np.ndarray, Ca: np.ndarray, yya: np.ndarray,
                 Wa: np.ndarray, Ra: np.ndarray, alpha: float, max_set: int = 200) -> int:
    """Exact Lasso solution for each target's current non-zero set and signs, kept where it lowers the objective.

    Once coordinate descent has found a target's support and signs, w_A = (X_A'X_A / n)^-1 (c_A - alpha s_A) is the
    answer; it is computed from the inverse of X'X / n shared by all targets (a correction on the few zero
    coordinates) or from the few non-zero ones, whichever set is smaller (targets where both exceed max_set skip it).
    """
    Wv = Wa[valid]
    S = np.sign(Wv)
    Cv = Ca[valid]
    V = Hv @ (Cv - alpha * S)  # exact for targets with no zero slope
    nz = S != 0
    n_active = nz.sum(axis=0)
    n_zero = len(valid) - n_active
    cand = np.ones(Wa.shape[1], dtype=bool)
    for t in np.flatnonzero(n_zero > 0):
        if min(n_active[t], n_zero[t]) > max_set:
            cand[t] = False
            continue
        if n_active[t] <= n_zero[t]:
            A = np.flatnonzero(nz[:, t])
            x = np.zeros(len(valid))
            if len(A):
                x[A] = scipy.linalg.solve(Gv[np.ix_(A, A)], Cv[A, t] - alpha * S[A, t], assume_a="pos", check_finite=False)
        else:
            Z = np.flatnonzero(~nz[:, t])
            x = V[:, t] - Hv[:, Z] @ scipy.linalg.solve(Hv[np.ix_(Z, Z)], V[Z, t], assume_a="pos", check_finite=False)
            x[Z] = 0.0
        V[:, t] = x
    Wn = np.zeros_like(Wa)
    Wn[valid] = V
    Rn = Ca - G @ Wn
    better = cand & (_lasso_primal(Wn, Rn, Ca, yya, alpha)[0] < _lasso_primal(Wa, Ra, Ca, yya, alpha)[0])
    Wa[:, better] = Wn[:, better]
    Ra[:, better] = Rn[:, better]
    return int(better.sum())


def lasso_path(
    P: Products,
    lambdas: Sequence[float],
    tol: float = 1e-4,
    max_sweeps: int = 1000,
    block: int = 32,
    full_every: int = 5,
    anderson: int = 5,
    log: logging.Logger | None = None,
) -> Iterator[tuple[float, LinearModel, dict]]:
    """Lasso models (the paper's lambda) along the grid from the largest lambda down, warm-started, all targets at once.

    Cyclic coordinate descent on X'X / n; every `anderson` sweeps two candidates replace a target's iterate where they
    lower its objective: the Anderson extrapolation of the last sweeps and the exact solution for the current support
    and signs (a Newton step, which ends the descent once the support is found). A target stops when its
    duality gap is <= tol * var(y), the criterion of scikit-learn's Lasso. Between full sweeps (every `full_every`)
    only the coordinates non-zero for some unfinished target are swept. Constant landmarks keep a zero slope.
    With no more training profiles than landmarks the path ends in an interpolating fit: as glmnet, it stops (smaller
    lambdas are left out, logged) once a fit explains SATURATED of the training variance summed over targets.
    """
    log = log or LOG
    if P.yy is None:
        raise ValueError("lasso_path needs training_products(..., with_yy=True)")
    lambdas = check_grid(lambdas, "baselines.lr_l1_lambdas")[::-1]
    ctl = ThreadpoolController()
    p, T = P.C.shape
    diag = np.diag(P.G).copy()
    valid = np.setdiff1d(np.arange(p), P.constant_landmarks())
    lam_max = 2.0 * float(np.abs(P.C[valid]).max(initial=0.0))
    Gv = P.G[np.ix_(valid, valid)]
    try:  # the shared inverse of the Newton steps (none when landmarks are collinear, e.g. fewer profiles than landmarks)
        Hv = scipy.linalg.cho_solve(scipy.linalg.cho_factor(Gv), np.eye(len(valid))) if 0 < len(valid) < P.n else None
    except (np.linalg.LinAlgError, scipy.linalg.LinAlgError):
        Hv = None
    W = np.zeros((p, T), dtype=np.float64)
    R = P.C.copy()
    for lam in lambdas:
        if lam >= lam_max:
            log.info("lasso lambda=%g >= lambda_max=%g: every slope is zero", lam, lam_max)
        alpha = 0.5 * lam
        act = np.arange(T)
        Wa, Ra, Ca, yya = W, R, P.C, P.yy  # all targets: work in place on W and R
        sweeps = unconverged = 0
        hist: list[np.ndarray] = []
        while True:
            gap = _lasso_gap(Wa, Ra, Ca, yya, alpha)
            done = gap <= tol * yya
            if done.all():
                break
            if sweeps >= max_sweeps:
                unconverged = int((~done).sum())
                log.warning("lasso lambda=%g: %d of %d targets not converged after %d sweeps (largest gap/var %.3g)",
                            lam, unconverged, T, sweeps, float(np.max(gap / np.maximum(yya, 1e-300))))
                break
            if done.any():  # drop finished targets so later sweeps work only on the rest
                if Wa is not W:
                    W[:, act] = Wa
                    R[:, act] = Ra
                act = act[~done]
                Wa, Ra, Ca, yya = W[:, act], R[:, act], P.C[:, act], P.yy[act]
                hist = [h[:, ~done] for h in hist]
            coords = valid if sweeps % full_every == 0 else valid[np.abs(Wa[valid]).max(axis=1) > 0]
            if anderson and not hist:
                hist.append(Wa.copy())
            _cd_sweep(P.G, diag, coords, Wa, Ra, alpha, block, ctl)
            sweeps += 1
            if anderson:
                hist.append(Wa.copy())
                if len(hist) == anderson + 1:
                    _anderson_step(P.G, Ca, yya, Wa, Ra, hist, alpha)
                    if Hv is not None:
                        _newton_step(Gv, Hv, valid, P.G, Ca, yya, Wa, Ra, alpha)
                    hist = []
        if Wa is not W:
            W[:, act] = Wa
            R[:, act] = Ra
        nonzero = float(np.count_nonzero(W) / T)
        log.info("lasso lambda=%g: %d sweeps, %.1f non-zero slopes per target, %d unconverged", lam, sweeps, nonzero, unconverged)
        yield float(lam), P.model(W), {"sweeps": sweeps, "unconverged": unconverged, "nonzero_per_target": round(nonzero, 2)}
        rest = lambdas[lambdas < lam]
        if P.n <= len(valid) and len(rest):
            explained = 1.0 - float(_lasso_primal(W, R, P.C, P.yy, alpha)[1].sum() / max(P.yy.sum(), 1e-300))
            if explained >= SATURATED:
                log.warning("lasso lambda=%g explains %.4f of the training variance with %d profiles <= %d landmarks "
                            "(saturated): leaving out the smaller lambda(s) %s of baselines.lr_l1_lambdas, as glmnet",
                            lam, explained, P.n, len(valid), rest.tolist())
                return


# --------------------------------------------------------------------------- KNN-GE
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


# --------------------------------------------------------------------------- selection on validation
def mean_mae(Y: np.ndarray, Y_hat: np.ndarray) -> float:
    """The paper's overall error: per-gene MAE averaged over target genes (float64)."""
    if Y.shape != Y_hat.shape:
        raise ValueError(f"shapes differ: truth {Y.shape} vs prediction {Y_hat.shape}")
    total = 0.0
    for s in range(0, len(Y), 4096):
        total += float(np.abs(Y[s : s + 4096] - Y_hat[s : s + 4096]).sum(dtype=np.float64))
    return total / Y.size


def select_linear(
    path: Iterable[tuple[float, LinearModel, dict]], validation: Mapping[str, tuple[np.ndarray, np.ndarray]]
) -> tuple[pd.DataFrame, dict[str, tuple[float, LinearModel]]]:
    """Validation curve (lambda, mean per-gene MAE on each validation split, fit details) and each split's best model."""
    rows, best = [], {}
    for lam, model, info in path:
        row = {"lambda": lam}
        for split, (X, Y) in validation.items():
            row[f"{split}_mae"] = mae = mean_mae(Y, model.predict(X))
            if split not in best or mae < best[split][0]:
                best[split] = (mae, lam, model)
        rows.append(row | info)
    curve = pd.DataFrame(rows).sort_values("lambda", ignore_index=True)
    return curve, {s: (lam, model) for s, (_, lam, model) in best.items()}


def select_knn(
    neighbors: np.ndarray, ks: Sequence[int], validation: Mapping[str, tuple[np.ndarray, np.ndarray]]
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Validation curve (k, mean per-gene MAE on each validation split) and each split's best k (the smaller on ties)."""
    ks = check_grid(ks, "baselines.knn_k", integer=True, upper=neighbors.shape[1])
    curve = pd.DataFrame({"k": ks})
    for split, (X, Y) in validation.items():
        curve[f"{split}_mae"] = [mean_mae(Y, pred) for _, pred in knn_predictions(X, neighbors, ks)]
    return curve, {s: int(curve["k"].iloc[int(np.argmin(curve[f"{s}_mae"].to_numpy()))]) for s in validation}


# --------------------------------------------------------------------------- rule helpers
def landmarks_and_targets(m: Matrix) -> tuple[np.ndarray, np.ndarray]:
    """Views (no copy) of a Matrix's landmark and target blocks."""
    return m.values[:, : m.n_landmarks], m.values[:, m.n_landmarks :]


def check_same_genes(train: Matrix, other: Matrix, path: str) -> None:
    """InputError unless `other` has the training split's landmarks and targets, in the same order."""
    if other.landmarks != train.landmarks or other.targets != train.targets:
        raise InputError(f"{path}: landmarks or target genes differ from the training split's")


def selection_record(method: str, hyperparameter: str, curve: pd.DataFrame, chosen: Mapping[str, float],
                     selection: Mapping[str, str], log: logging.Logger | None = None) -> dict:
    """What was chosen on which validation split, its error, and which evaluation splits use it (warns at a grid edge)."""
    log = log or LOG
    grid = curve[hyperparameter].tolist()
    record = {"method": method, "hyperparameter": hyperparameter, "chosen": {}, "validation_mae": {}, "used_for": dict(selection)}
    for split, value in chosen.items():
        value = value.item() if isinstance(value, np.generic) else value
        record["chosen"][split] = value
        record["validation_mae"][split] = float(curve.loc[curve[hyperparameter] == value, f"{split}_mae"].iloc[0])
        if len(grid) > 1 and value in (grid[0], grid[-1]):
            log.warning("%s: %s=%s chosen on %s is at the edge of the grid %s; consider extending the grid",
                        method, hyperparameter, value, split, grid)
    return record


def load_selection_splits(train, paths, selection: dict) -> tuple[dict, dict]:
    """The evaluation splits of a tuned baseline (checked against the training genes) and its validation (X, Y) pairs."""
    from .matrix import load_matrix

    splits = {s: load_matrix(paths[s]) for s in selection}
    for s, m in splits.items():
        check_same_genes(train, m, paths[s])
    validation = {s: landmarks_and_targets(splits[s]) for s in dict.fromkeys(selection.values())}
    return splits, validation
