"""The baselines at the paper's size: 88,807 GEO-tr profiles x 943 landmarks -> 9,520 targets, on random data.

Each method runs in its own child process (so each peak RSS is its own) on data regenerated from the same seed
(a latent-factor model, so landmarks and targets are correlated as expression is), with 2 BLAS threads. The time
covers what the workflow's rule does after loading: the fit, and for LR-L1 / LR-L2 / KNN-GE the whole grid scored on
both validation sets (8,880 GEO-va and 462 1000G-va profiles). The reference in the same run: scikit-learn's
LinearRegression on the same arrays (LR's predictions are compared with it), and one float32 X'Y product.

    flock /tmp/dgex-heavy.lock .venv/bin/python benchmarks/baselines_full_scale.py   # everything (~6 min on 2 idle cores, 14 GB)
    .venv/bin/python benchmarks/baselines_full_scale.py --methods lr,lr_l1   # a subset
    .venv/bin/python benchmarks/baselines_full_scale.py --targets 1000       # smaller, to try things
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml
from threadpoolctl import threadpool_limits

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow_scripts"))

from dgex import baselines, knn, lasso, tuning  # noqa: E402

METHODS = ["xty", "lr", "knn", "lr_l2", "sklearn_lr", "lr_l1"]


def config_grids() -> dict:
    """The baselines section of the repository's config.yaml (the grids the workflow runs)."""
    return yaml.safe_load((REPO / "config.yaml").read_text())["baselines"]


def make_data(n: int, p: int, T: int, n_va: int, n_rna: int, seed: int = 0, factors: int = 60) -> dict[str, np.ndarray]:
    """Standardized-looking float32 profiles from a latent-factor model: train, GEO-va and 1000G-va (shifted)."""
    rng = np.random.default_rng(seed)
    Ax = rng.standard_normal((factors, p), dtype=np.float32) / np.sqrt(factors)
    Ay = rng.standard_normal((factors, T), dtype=np.float32) / np.sqrt(factors)
    Bx = rng.standard_normal((p, T), dtype=np.float32) * np.float32(0.3 / np.sqrt(p))

    def draw(m: int, shift: float) -> tuple[np.ndarray, np.ndarray]:
        X = np.empty((m, p), dtype=np.float32)
        Y = np.empty((m, T), dtype=np.float32)
        for s in range(0, m, 8192):
            b = min(8192, m - s)
            F = rng.standard_normal((b, factors), dtype=np.float32) + np.float32(shift)
            X[s : s + b] = F @ Ax + np.float32(0.6) * rng.standard_normal((b, p), dtype=np.float32)
            Y[s : s + b] = F @ Ay + X[s : s + b] @ Bx + np.float32(0.5) * rng.standard_normal((b, T), dtype=np.float32)
            Y[s : s + b] += np.float32(0.2) * np.tanh(Y[s : s + b])  # a little nonlinearity, as expression has
        return X, Y

    X, Y = draw(n, 0.0)
    X_va, Y_va = draw(n_va, 0.0)
    X_rna, Y_rna = draw(n_rna, 0.3)
    return {"X": X, "Y": Y, "X_va": X_va, "Y_va": Y_va, "X_rna": X_rna, "Y_rna": Y_rna}


def child(method: str, args: argparse.Namespace) -> dict:
    """Generate the data, time one method, return its figures (and write compared predictions under args.tmp)."""
    d = make_data(args.profiles, args.landmarks, args.targets, args.validation, args.rnaseq_validation)
    grids = config_grids()
    validation = {"geo_va": (d["X_va"], d["Y_va"]), "g1000_va": (d["X_rna"], d["Y_rna"])}
    out: dict = {"method": method}
    with threadpool_limits(args.threads):
        t0 = time.perf_counter()
        if method == "xty":
            d["X"].T @ d["Y"]
        elif method == "lr":
            model = baselines.fit_ols(d["X"], d["Y"])
            out["fit_s"] = time.perf_counter() - t0
            np.save(Path(args.tmp) / "lr.npy", model.predict(d["X_va"][: args.compare]))
        elif method == "sklearn_lr":
            from sklearn.linear_model import LinearRegression

            model = LinearRegression().fit(d["X"], d["Y"])
            out["fit_s"] = time.perf_counter() - t0
            np.save(Path(args.tmp) / "sklearn_lr.npy", model.predict(d["X_va"][: args.compare]).astype(np.float32))
        elif method == "lr_l2":
            P = baselines.training_products(d["X"], d["Y"])
            curve, best = tuning.select_linear(baselines.ridge_path(P, grids["lr_l2_lambdas"]), validation)
            out["curve"] = curve.to_dict("list")
            out["chosen"] = {s: lam for s, (lam, _) in best.items()}
        elif method == "lr_l1":
            P = baselines.training_products(d["X"], d["Y"], with_yy=True)
            out["products_s"] = time.perf_counter() - t0
            t_eig = time.perf_counter()
            e = np.linalg.eigvalsh(P.G)
            out["condition_number"] = round(float(e[-1] / e[0]), 1)  # how hard the Lasso is (correlated landmarks)
            t0 += time.perf_counter() - t_eig  # left out of the time
            path = lasso.lasso_path(P, grids["lr_l1_lambdas"], tol=grids["lr_l1_tol"], max_sweeps=grids["lr_l1_max_sweeps"])
            curve, best = tuning.select_linear(path, validation)
            out["curve"] = curve.to_dict("list")
            out["chosen"] = {s: lam for s, (lam, _) in best.items()}
        elif method == "knn":
            ks = grids["knn_k"]
            nb = knn.knn_neighbors(d["X"], d["Y"], max(ks))
            out["neighbors_s"] = time.perf_counter() - t0
            curve, best = tuning.select_knn(nb, ks, validation)
            out["curve"] = curve.to_dict("list")
            out["chosen"] = best
        else:
            raise ValueError(f"unknown method {method!r}; choose from {METHODS}")
        out["wall_s"] = time.perf_counter() - t0
    out["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--methods", default=",".join(METHODS), help=f"comma-separated subset of {METHODS}")
    ap.add_argument("--profiles", type=int, default=88807)
    ap.add_argument("--landmarks", type=int, default=943)
    ap.add_argument("--targets", type=int, default=9520)
    ap.add_argument("--validation", type=int, default=8880, help="GEO-va profiles")
    ap.add_argument("--rnaseq-validation", type=int, default=462, help="1000G-va profiles")
    ap.add_argument("--compare", type=int, default=2000, help="GEO-va profiles on which LR and scikit-learn are compared")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--tmp", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args)))
        return

    methods = args.methods.split(",")
    print(f"baselines at {args.profiles:,} profiles x {args.landmarks:,} landmarks -> {args.targets:,} targets, "
          f"{args.threads} threads; grids from config.yaml: {config_grids()}", flush=True)
    results = {}
    with tempfile.TemporaryDirectory(prefix="dgex-bench-") as tmp:
        for m in methods:
            sizes = ["--profiles", args.profiles, "--landmarks", args.landmarks, "--targets", args.targets, "--validation",
                     args.validation, "--rnaseq-validation", args.rnaseq_validation, "--compare", args.compare, "--threads",
                     args.threads]
            cmd = [sys.executable, __file__, "--child", m, "--tmp", tmp] + [str(a) for a in sizes]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                print(f"{m}: FAILED\n{proc.stderr[-3000:]}", flush=True)
                continue
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            results[m] = r
            extra = {k: v for k, v in r.items() if k not in ("method", "wall_s", "peak_rss_gb", "curve")}
            print(f"{m:>10}: {r['wall_s']:8.1f} s  peak RSS {r['peak_rss_gb']:5.2f} GB  {extra}", flush=True)
            if "curve" in r:
                print("            validation curve: " + json.dumps(r["curve"]), flush=True)
        if "lr" in results and "sklearn_lr" in results:
            a, b = np.load(Path(tmp) / "lr.npy"), np.load(Path(tmp) / "sklearn_lr.npy")
            rel = float(np.abs(a - b).max() / np.abs(b).max())
            print(f"LR vs scikit-learn LinearRegression: "
                  f"{results['sklearn_lr']['fit_s'] / results['lr']['fit_s']:.1f}x faster fit, "
                  f"largest prediction difference {rel:.2e} of the largest prediction ({args.compare} GEO-va profiles)")
    if "xty" in results:
        for m, r in results.items():
            print(f"{m:>10}: {r['wall_s'] / results['xty']['wall_s']:6.2f} x the time of one float32 X'Y product")


if __name__ == "__main__":
    main()
