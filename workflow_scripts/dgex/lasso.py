"""LR-L1 (Lasso) for all targets at once: a warm-started path over the lambda grid on the training products
(dgex.baselines.Products), ADMM with one shared factorization first, then coordinate descent with Anderson extrapolation
and exact steps on the active set; scikit-learn's ``Lasso(alpha=lambda / 2)`` objective."""
from __future__ import annotations

import logging
from typing import Iterator, Sequence

import numpy as np
import scipy.linalg
from threadpoolctl import ThreadpoolController

from .baselines import LOG, LinearModel, Products, check_grid

SATURATED = 0.999  # share of the training variance explained at which a Lasso path stops when n <= p (glmnet's devmax)


def _lasso_primal(Wa: np.ndarray, Ra: np.ndarray, Ca: np.ndarray, yya: np.ndarray,
                  alpha: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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


def _soft_threshold(v: np.ndarray, t: float) -> np.ndarray:
    """sign(v) max(|v| - t, 0), elementwise (np.clip's overhead is larger at coordinate descent's size)."""
    w = np.maximum(v - t, 0.0)
    w += np.minimum(v + t, 0.0)
    return w


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
                w = _soft_threshold(rho, alpha)
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


class _Admm:
    """ADMM for all targets at once on one Gram matrix; what every lambda shares (G on the valid coordinates, the
    starting rho) is computed once.

    min 1/2 w'Gw - c'w + alpha ||z||_1 s.t. w = z: the w-step solves with (G + rho I)^-1, one matrix shared by every
    target, so an iteration is one matrix product however ill-conditioned X'X / n is (correlated landmarks, where
    coordinate descent crawls). The scaled dual starts at R / rho, the optimum's for the warm start's own lambda; rho
    starts at the geometric mean of G's extreme eigenvalues and is balanced between the primal and dual residuals
    (Boyd et al. 2011, 3.4.1). Only `valid` coordinates move.
    """

    def __init__(self, G: np.ndarray, Gv: np.ndarray, valid: np.ndarray):
        self.G_cols, self.Gv, self.valid, self.p = G[:, valid], Gv, valid, len(G)
        ev = np.linalg.eigvalsh(Gv) if len(valid) else np.ones(1)
        self.rho0 = float(np.sqrt(max(ev[0], ev[-1] * 1e-12) * ev[-1]))

    def _factor(self, rho: float, Cv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(G + rho I)^-1 on the valid coordinates, and its product with the targets' X'y / n."""
        H = np.linalg.inv(self.Gv + rho * np.eye(len(self.valid)))
        return H, H @ Cv

    def solve(self, Wa: np.ndarray, Ra: np.ndarray, Ca: np.ndarray, yya: np.ndarray, alpha: float, tol: float,
              max_iter: int, check_every: int = 10) -> tuple[np.ndarray, int]:
        """From (Wa, Ra), in place; which targets reached the gap, and the iterations. A target is frozen at the first
        check where its duality gap is <= tol * var."""
        done = np.zeros(Wa.shape[1], dtype=bool)
        if not len(self.valid) or max_iter < 1:
            return done, 0
        valid, rho = self.valid, self.rho0
        act = np.arange(Wa.shape[1])
        Z, U, Cv = Wa[valid], Ra[valid] / rho, Ca[valid]
        H, HC = self._factor(rho, Cv)
        it = 0
        while it < max_iter:
            Z_old, U_old = Z, U
            V = HC + rho * (H @ (Z - U)) + U  # w + u
            Z = _soft_threshold(V, alpha / rho)
            U = V - Z
            it += 1
            if it % check_every and it < max_iter:
                continue
            W_act = np.zeros((self.p, len(act)))
            W_act[valid] = Z
            R_act = Ca[:, act] - self.G_cols @ Z
            ok = _lasso_gap(W_act, R_act, Ca[:, act], yya[act], alpha) <= tol * yya[act]
            Wa[:, act[ok]], Ra[:, act[ok]] = W_act[:, ok], R_act[:, ok]
            done[act[ok]] = True
            if ok.all() or it >= max_iter:
                Wa[:, act[~ok]], Ra[:, act[~ok]] = W_act[:, ~ok], R_act[:, ~ok]
                break
            if ok.any():
                act, Z, U, Z_old, U_old, Cv, HC = (act[~ok], Z[:, ~ok], U[:, ~ok], Z_old[:, ~ok], U_old[:, ~ok],
                                                   Cv[:, ~ok], HC[:, ~ok])
            r = np.linalg.norm(U - U_old)  # primal residual ||w - z||
            d = rho * np.linalg.norm(Z - Z_old)  # dual residual
            if r > 10 * d or d > 10 * r:
                f = 2.0 if r > d else 0.5
                rho *= f
                U = U / f
                H, HC = self._factor(rho, Cv)
        return done, it


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

    Per lambda, ADMM first (`_Admm`, up to max_sweeps / 2 iterations, each counted as a sweep): it converges on
    ill-conditioned X'X / n where coordinate descent alone does not. The targets it leaves get cyclic coordinate
    descent on X'X / n; every `anderson` sweeps two candidates replace a target's iterate where they
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
    admm = _Admm(P.G, Gv, valid)
    W = np.zeros((p, T), dtype=np.float64)
    R = P.C.copy()
    for lam in lambdas:
        if lam >= lam_max:
            log.info("lasso lambda=%g >= lambda_max=%g: every slope is zero", lam, lam_max)
        alpha = 0.5 * lam
        act = np.arange(T)
        Wa, Ra, Ca, yya = W, R, P.C, P.yy  # all targets: work in place on W and R
        # ADMM takes up to half the budget; coordinate descent polishes what it leaves (exact steps on the support)
        admm_done, sweeps = admm.solve(W, R, P.C, P.yy, alpha, tol, max_sweeps // 2)
        admm_iters, admm_finished = sweeps, int(admm_done.sum())
        unconverged = 0
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
        log.info("lasso lambda=%g: %d sweeps (ADMM %d iterations, %d targets finished there), %.1f non-zero slopes per "
                 "target, %d unconverged", lam, sweeps, admm_iters, admm_finished, nonzero, unconverged)
        yield float(lam), P.model(W), {"sweeps": sweeps, "unconverged": unconverged, "nonzero_per_target": round(nonzero, 2)}
        rest = lambdas[lambdas < lam]
        if P.n <= len(valid) and len(rest):
            explained = 1.0 - float(_lasso_primal(W, R, P.C, P.yy, alpha)[1].sum() / max(P.yy.sum(), 1e-300))
            if explained >= SATURATED:
                log.warning("lasso lambda=%g explains %.4f of the training variance with %d profiles <= %d landmarks "
                            "(saturated): leaving out the smaller lambda(s) %s of baselines.lr_l1_lambdas, as glmnet",
                            lam, explained, P.n, len(valid), rest.tolist())
                return


