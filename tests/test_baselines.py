"""The baselines (LR, LR-L1, LR-L2, KNN-GE) against scikit-learn and brute force on small data, bad input, and the rules."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import Lasso, LinearRegression, Ridge

from helpers import run_snakemake, write_config
from dgex import baselines as B
from dgex import knn as K
from dgex import lasso as L
from dgex import tuning as T
from dgex.io import InputError
from dgex.matrix import Matrix, load_matrix, save_matrix


def correlated_data(n: int = 300, p: int = 25, T: int = 18, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """float32 landmarks with shared factors (correlated, as expression is), non-zero means, and linear targets."""
    rng = np.random.default_rng(seed)
    F = rng.standard_normal((n, 4))
    X = F @ rng.standard_normal((4, p)) + 0.7 * rng.standard_normal((n, p)) + rng.uniform(-3, 3, p)
    Y = X @ (0.2 * rng.standard_normal((p, T))) + rng.standard_normal((n, T)) + rng.uniform(-2, 2, T)
    return X.astype(np.float32), Y.astype(np.float32)


def rel(a: np.ndarray, b: np.ndarray) -> float:
    """Largest difference relative to the largest magnitude of b."""
    return float(np.abs(np.asarray(a, np.float64) - b).max() / np.abs(b).max())


# --------------------------------------------------------------------------- against scikit-learn
def test_lr_equals_sklearn_linear_regression():
    X, Y = correlated_data()
    X_new, _ = correlated_data(seed=2)
    ours = B.fit_ols(X, Y)
    sk = LinearRegression().fit(X.astype(np.float64), Y.astype(np.float64))
    assert rel(ours.predict(X_new), sk.predict(X_new.astype(np.float64))) < 1e-4
    assert rel(ours.W, sk.coef_.T) < 1e-4


@pytest.mark.parametrize("lam", [1e-3, 0.05, 0.5])
def test_lasso_equals_sklearn_at_alpha_half_lambda(lam):
    """Paper's (1/n) SSE + lambda ||w||_1 is scikit-learn's Lasso with alpha = lambda / 2; slopes within 1e-4."""
    X, Y = correlated_data()
    P = B.training_products(X, Y, with_yy=True)
    [(got_lam, model, info)] = list(L.lasso_path(P, [lam], tol=1e-12, max_sweeps=5000))
    assert got_lam == lam and info["unconverged"] == 0
    sk = Lasso(alpha=lam / 2, tol=1e-12, max_iter=100_000).fit(X.astype(np.float64), Y.astype(np.float64))
    np.testing.assert_allclose(model.W, sk.coef_.T, atol=1e-4 * np.abs(sk.coef_).max())
    assert rel(model.predict(X), sk.predict(X.astype(np.float64))) < 1e-4
    assert np.array_equal(model.W == 0, sk.coef_.T == 0) or lam < 0.01  # same support where it is clear-cut


def test_lasso_path_warm_start_equals_cold_fits():
    X, Y = correlated_data(T=6)
    P = B.training_products(X, Y, with_yy=True)
    path = {lam: m for lam, m, _ in L.lasso_path(P, [0.3, 0.03, 0.003], tol=1e-10, max_sweeps=5000)}
    for lam in path:
        [(_, cold, _)] = list(L.lasso_path(P, [lam], tol=1e-10, max_sweeps=5000))
        np.testing.assert_allclose(path[lam].W, cold.W, atol=1e-5)


def test_lasso_above_lambda_max_predicts_the_mean():
    X, Y = correlated_data()
    P = B.training_products(X, Y, with_yy=True)
    lam_max = 2 * np.abs(P.C).max()
    [(_, model, _)] = list(L.lasso_path(P, [1.01 * lam_max]))
    assert not model.W.any()
    np.testing.assert_allclose(model.b, Y.mean(axis=0), rtol=1e-5)


@pytest.mark.parametrize("lam", [1e-4, 0.1, 3.0])
def test_ridge_equals_sklearn_at_alpha_n_lambda(lam):
    """Paper's (1/n) SSE + lambda ||w||^2 is scikit-learn's Ridge with alpha = n * lambda; within 1e-4 relative."""
    X, Y = correlated_data()
    [(_, model, _)] = list(B.ridge_path(B.training_products(X, Y), [lam]))
    sk = Ridge(alpha=len(X) * lam, solver="svd").fit(X.astype(np.float64), Y.astype(np.float64))
    assert rel(model.W, sk.coef_.T) < 1e-4
    assert rel(model.predict(X), sk.predict(X.astype(np.float64))) < 1e-4


def brute_force_knn(X: np.ndarray, Y: np.ndarray, X_new: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """KNN-GE by loops: per target, sort landmarks by Euclidean distance (ties: lower index), average the k nearest."""
    X64, Y64, N64 = X.astype(np.float64), Y.astype(np.float64), X_new.astype(np.float64)
    nbrs = np.zeros((Y.shape[1], k), dtype=int)
    pred = np.zeros((len(X_new), Y.shape[1]))
    for t in range(Y.shape[1]):
        dist = [np.sqrt(np.sum((X64[:, j] - Y64[:, t]) ** 2)) for j in range(X.shape[1])]
        nbrs[t] = sorted(range(X.shape[1]), key=lambda j: (dist[j], j))[:k]
        for i in range(len(X_new)):
            pred[i, t] = sum(N64[i, j] for j in nbrs[t]) / k
    return nbrs, pred


def test_knn_ge_equals_brute_force_loop():
    X, Y = correlated_data(n=120, p=15, T=10)
    X_new, _ = correlated_data(n=30, p=15, T=10, seed=5)
    nb = K.knn_neighbors(X, Y, 7)
    preds = dict(K.knn_predictions(X_new, nb, [1, 4, 7]))
    for k in (1, 4, 7):
        want_nb, want_pred = brute_force_knn(X, Y, X_new, k)
        assert np.array_equal(nb[:, :k], want_nb)
        np.testing.assert_allclose(preds[k], want_pred, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(K.KnnModel(nb[:, :k]).predict(X_new), want_pred, rtol=1e-5, atol=1e-5)


def test_knn_ties_keep_the_lower_landmark():
    X = np.array([[1, 5, 1], [2, 5, 2], [3, 5, 3]], dtype=np.float32)  # landmarks 0 and 2 identical
    Y = np.array([[1], [2], [3]], dtype=np.float32)
    assert K.knn_neighbors(X, Y, 3).tolist() == [[0, 2, 1]]


# --------------------------------------------------------------------------- selection on validation
def test_selection_picks_the_lowest_validation_error_per_split():
    X, Y = correlated_data(n=200)
    Xa, Ya = correlated_data(n=100, seed=3)
    Xb, Yb = correlated_data(n=100, seed=4)
    P = B.training_products(X, Y)
    curve, best = T.select_linear(B.ridge_path(P, [10.0, 1e-3, 0.1]), {"geo_va": (Xa, Ya), "g1000_va": (Xb, Yb)})
    assert curve["lambda"].tolist() == [1e-3, 0.1, 10.0]
    for split, (Xv, Yv) in {"geo_va": (Xa, Ya), "g1000_va": (Xb, Yb)}.items():
        errs = [T.mean_mae(Yv, m.predict(Xv)) for _, m, _ in B.ridge_path(P, [1e-3, 0.1, 10.0])]
        np.testing.assert_allclose(curve[f"{split}_mae"], errs)
        assert best[split][0] == [1e-3, 0.1, 10.0][int(np.argmin(errs))]
    nb = K.knn_neighbors(X, Y, 5)
    kcurve, kbest = T.select_knn(nb, [5, 1, 3], {"geo_va": (Xa, Ya)})
    assert kcurve["k"].tolist() == [1, 3, 5]
    assert kbest["geo_va"] == kcurve["k"][kcurve["geo_va_mae"].idxmin()]


# --------------------------------------------------------------------------- bad input and documented behaviour
@pytest.mark.parametrize("grid,kw,msg", [
    ([], {}, "empty"),
    ([0.1, -1.0], {}, "> 0"),
    ([0.0], {}, "> 0"),
    ([float("nan")], {}, "finite"),
    ([0.1, 0.1], {}, "twice"),
    ([1.5], {"integer": True}, "integer"),
    ([3, 40], {"integer": True, "upper": 20}, "out of range"),
])
def test_bad_grids_are_named(grid, kw, msg):
    with pytest.raises(ValueError, match=msg) as err:
        B.check_grid(grid, "baselines.some_grid", **kw)
    assert "baselines.some_grid" in str(err.value)


def test_knn_k_above_the_number_of_landmarks_is_an_error():
    X, Y = correlated_data(p=6)
    with pytest.raises(ValueError, match="out of range"):
        K.knn_neighbors(X, Y, 7)
    nb = K.knn_neighbors(X, Y, 6)
    with pytest.raises(ValueError, match="baselines.knn_k"):
        list(K.knn_predictions(X, nb, [2, 7]))


def test_fewer_profiles_than_landmarks():
    """LR is the minimum-norm fit; LR-L2 and LR-L1 are still well posed and match scikit-learn (documented)."""
    X, Y = correlated_data(n=20, p=30, T=5)
    P = B.training_products(X, Y, with_yy=True)
    [(_, ridge, _)] = list(B.ridge_path(P, [0.1]))
    sk = Ridge(alpha=20 * 0.1, solver="svd").fit(X.astype(np.float64), Y.astype(np.float64))
    assert rel(ridge.predict(X), sk.predict(X.astype(np.float64))) < 1e-4
    [(_, lasso, info)] = list(L.lasso_path(P, [0.1], tol=1e-12, max_sweeps=20000))
    skl = Lasso(alpha=0.05, tol=1e-12, max_iter=200_000).fit(X.astype(np.float64), Y.astype(np.float64))
    assert info["unconverged"] == 0
    assert rel(lasso.predict(X), skl.predict(X.astype(np.float64))) < 1e-3  # fitted values are unique


def test_lasso_path_stops_once_an_underdetermined_fit_saturates(caplog):
    """n <= p: after the first lambda explaining >= 99.9% of the training variance, smaller lambdas are left out (glmnet)."""
    X, Y = correlated_data(n=20, p=30, T=5)
    path = list(L.lasso_path(B.training_products(X, Y, with_yy=True), [0.3, 1e-3, 1e-4, 1e-5], max_sweeps=20000))
    fitted = [lam for lam, _, _ in path]
    assert fitted[0] == 0.3 and 1e-5 not in fitted
    Yc = Y - Y.mean(axis=0)
    explained = 1 - ((Y - path[-1][1].predict(X)) ** 2).sum() / (Yc**2).sum()
    assert explained >= L.SATURATED
    assert "(saturated): leaving out the smaller lambda(s)" in caplog.text and "baselines.lr_l1_lambdas" in caplog.text
    X, Y = correlated_data(n=40, p=30, T=5)  # more profiles than landmarks: the whole grid
    assert len(list(L.lasso_path(B.training_products(X, Y, with_yy=True), [0.3, 1e-3, 1e-4], max_sweeps=20000))) == 3


@pytest.mark.parametrize("n, p", [(20, 30), (30, 30)])
def test_lr_underdetermined_is_the_minimum_norm_solution(n, p):
    """n <= p (centered rank n - 1 < p): slopes are numpy.linalg.lstsq's on the centered data, as LinearRegression's."""
    X, Y = correlated_data(n=n, p=p, T=5)
    X_new, _ = correlated_data(n=40, p=p, seed=2)
    fit = B.ols_fit(B.training_products(X, Y))
    X64, Y64 = X.astype(np.float64), Y.astype(np.float64)
    Xc = X64 - X64.mean(axis=0)
    W_lstsq, _, rank, _ = np.linalg.lstsq(Xc, Y64 - Y64.mean(axis=0), rcond=None)
    assert fit.rank == rank == n - 1 and fit.min_norm and fit.n_train == n and fit.n_landmarks == p
    assert rel(fit.model.W, W_lstsq) < 1e-4
    sk = LinearRegression().fit(X64, Y64)
    assert rel(fit.model.predict(X_new), sk.predict(X_new.astype(np.float64))) < 1e-4
    assert rel(fit.model.predict(X), Y) < 1e-4  # interpolates the training profiles
    rec = fit.record()
    assert rec["solution"] == "min_norm" and rec["rank"] == n - 1
    assert f"{n} training profiles <= {p} landmarks (underdetermined)" in rec["reason"]
    exact = B.ols_fit(B.training_products(*correlated_data(n=p + 1, p=p, T=5)))  # one more profile: a unique solution
    assert not exact.min_norm and exact.rank == p


def test_lr_collinear_landmarks_take_the_minimum_norm_solution():
    """A landmark listed twice: many solutions, the minimum-norm one (equal slopes), not garbage from a singular solve."""
    X, Y = correlated_data()
    X[:, 5] = X[:, 3]
    fit = B.ols_fit(B.training_products(X, Y))
    X64, Y64 = X.astype(np.float64), Y.astype(np.float64)
    W_lstsq = np.linalg.lstsq(X64 - X64.mean(axis=0), Y64 - Y64.mean(axis=0), rcond=None)[0]
    assert fit.min_norm and fit.rank == X.shape[1] - 1 and "collinear" in fit.reason
    assert rel(fit.model.W, W_lstsq) < 1e-4
    np.testing.assert_allclose(fit.model.W[3], fit.model.W[5], rtol=1e-5)
    full = B.ols_fit(B.training_products(*correlated_data()))
    assert not full.min_norm and full.rank == 25 and full.record()["solution"] == "unique"


def test_constant_genes():
    """A constant landmark: LR names it, LR-L1/L2 give it slope 0; a constant target is predicted by its mean."""
    X, Y = correlated_data()
    X[:, 3] = 2.5
    Y[:, 4] = -1.0
    P = B.training_products(X, Y, with_yy=True)
    with pytest.raises(ValueError, match="constant"):
        B.ols_from_products(P)
    with pytest.raises(InputError, match=r"train.h5: 1 landmark\(s\) are constant.*'lm3'"):
        B.check_landmarks_vary(P, [f"lm{i}" for i in range(X.shape[1])], "train.h5")
    [(_, ridge, _)] = list(B.ridge_path(P, [0.01]))
    [(_, lasso, _)] = list(L.lasso_path(P, [0.01], tol=1e-10, max_sweeps=5000))
    for m in (ridge, lasso):
        assert np.abs(m.W[3]).max() < 1e-6
        assert np.abs(m.W[:, 4]).max() < 1e-6
        np.testing.assert_allclose(m.predict(X)[:, 4], -1.0, atol=1e-5)
    sk = Lasso(alpha=0.005, tol=1e-12, max_iter=100_000).fit(X.astype(np.float64), Y.astype(np.float64))
    assert rel(lasso.predict(X), sk.predict(X.astype(np.float64))) < 1e-4
    nb = K.knn_neighbors(X, Y, 3)  # KNN-GE needs no variance: the constant genes just have distances
    assert nb.shape == (Y.shape[1], 3)


def test_lasso_converges_on_ill_conditioned_landmarks():
    """Landmarks driven by a few factors (X'X / n condition number ~2e5, as correlated expression): the preset's budget
    of 1,000 sweeps reaches scikit-learn's gap on every target (coordinate descent alone left 36 and 40 of 40)."""
    rng = np.random.default_rng(3)
    n, p, T = 2000, 200, 40
    X = rng.standard_normal((n, 6)) @ rng.standard_normal((6, p)) + 0.05 * rng.standard_normal((n, p))
    Y = X @ (0.1 * rng.standard_normal((p, T))) + 0.5 * rng.standard_normal((n, T))
    P = B.training_products(X.astype(np.float32), Y.astype(np.float32), with_yy=True)
    for lam in (1e-2, 1e-3):
        [(_, model, info)] = list(L.lasso_path(P, [lam], tol=1e-4, max_sweeps=1000))
        assert info["unconverged"] == 0 and info["sweeps"] < 1000
        W = model.W.astype(np.float64)
        gap = L._lasso_gap(W, P.C - P.G @ W, P.C, P.yy, lam / 2)
        assert (gap <= 1.01e-4 * P.yy).all()


def test_lasso_reports_unconverged_targets(caplog):
    X, Y = correlated_data()
    P = B.training_products(X, Y, with_yy=True)
    [(_, _, info)] = list(L.lasso_path(P, [1e-3], tol=1e-14, max_sweeps=1, anderson=0))
    assert info["unconverged"] > 0 and info["sweeps"] == 1
    assert "not converged after 1 sweeps" in caplog.text


# --------------------------------------------------------------------------- the rules
def test_baseline_rules_write_predictions_curves_and_choices(tmp_path):
    """The four rules on a tiny run: per-split predictions in split order, the validation curve and the choice."""
    write_config(tmp_path, {"baselines": {"methods": ["lr", "lr_l1", "lr_l2", "knn"], "lr_l1_lambdas": [1e-3, 1e-2, 0.1],
                                          "lr_l2_lambdas": [1e-2, 1.0], "knn_k": [30, 50]}})
    # every k above the 20 landmarks: the KNN rule must fail naming the setting; the others must succeed
    proc = run_snakemake(tmp_path, "--keep-going",
                         *[f"results/tiny/predictions/{m}/gtex_te.h5" for m in ("lr", "lr_l1", "lr_l2", "knn")],
                         check=False)
    assert proc.returncode != 0
    log = (tmp_path / "results/tiny/logs/fit_knn_ge.log").read_text()
    assert "baselines.knn_k" in log and "out of range" in log
    res = tmp_path / "results/tiny"
    for method in ("lr", "lr_l1", "lr_l2"):
        for split in ("geo_va", "geo_te", "g1000_va", "gtex_te"):
            pred, truth = load_matrix(res / f"predictions/{method}/{split}.h5"), load_matrix(res / f"splits/{split}.h5")
            assert pred.n_landmarks == 0 and pred.genes == truth.targets and pred.samples == truth.samples
    for method, col in (("lr_l1", "lambda"), ("lr_l2", "lambda")):
        curve = pd.read_csv(res / f"models/{method}/validation_curve.tsv", sep="\t")
        chosen = json.loads((res / f"models/{method}/chosen.json").read_text())
        assert list(curve.columns[:3]) == [col, "geo_va_mae", "g1000_va_mae"]
        assert chosen["used_for"] == {"geo_va": "geo_va", "geo_te": "geo_va", "g1000_va": "g1000_va", "gtex_te": "g1000_va"}
        for split in ("geo_va", "g1000_va"):
            assert chosen["chosen"][split] == curve[col][curve[f"{split}_mae"].idxmin()]
    # the chosen lambda's geo_va predictions reproduce the curve's error
    chosen = json.loads((res / "models/lr_l1/chosen.json").read_text())
    pred, truth = load_matrix(res / "predictions/lr_l1/geo_va.h5"), load_matrix(res / "splits/geo_va.h5")
    assert T.mean_mae(truth.Y, pred.values) == pytest.approx(chosen["validation_mae"]["geo_va"], rel=1e-6)

    # k above the number of landmarks is left out with a warning (so the default grid serves small runs)
    write_config(tmp_path, {"baselines": {"methods": ["knn"], "knn_k": [1, 3, 20, 50]}})
    run_snakemake(tmp_path, "results/tiny/predictions/knn/geo_te.h5")
    curve = pd.read_csv(res / "models/knn/validation_curve.tsv", sep="\t")
    assert curve["k"].tolist() == [1, 3, 20]
    assert "leaving out k=[50]" in (res / "logs/fit_knn_ge.log").read_text()
    tr, te = load_matrix(res / "splits/geo_tr.h5"), load_matrix(res / "splits/geo_te.h5")
    k = json.loads((res / "models/knn/chosen.json").read_text())["chosen"]["geo_va"]
    nb, want = brute_force_knn(tr.X, tr.Y, te.X, k)
    np.testing.assert_allclose(load_matrix(res / "predictions/knn/geo_te.h5").values, want, rtol=1e-5, atol=1e-5)


def test_lr_rule_names_a_constant_landmark(tmp_path):
    write_config(tmp_path, {"baselines": {"methods": ["lr"]}})
    split = tmp_path / "results/tiny/splits/geo_tr.h5"
    run_snakemake(tmp_path, str(split.relative_to(tmp_path)))
    m = load_matrix(split)
    m.values[:, 2] = 0.0
    save_matrix(split, Matrix(m.values, m.samples, m.genes, m.n_landmarks, m.attrs))
    proc = run_snakemake(tmp_path, "results/tiny/predictions/lr/geo_te.h5", "--rerun-triggers", "mtime", check=False)
    assert proc.returncode != 0
    log = (tmp_path / "results/tiny/logs/fit_linear_regression.log").read_text()
    assert "geo_tr.h5" in log and "constant" in log and m.genes[2] in log
