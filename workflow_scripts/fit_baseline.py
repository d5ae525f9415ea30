"""Rules fit_linear_regression, fit_ridge_regression, fit_lasso_regression and fit_knn_ge (rules/baselines.smk): the
paper's baselines fitted on GEO-tr, their hyper-parameter (lambda, k) chosen on each validation split, and predictions
on every evaluation split; the rule's name picks its function.

With fewer training profiles than landmarks (or collinear landmarks) LR is the minimum-norm least-squares fit;
models/lr/solution.json records which, for the tables.
"""
import json
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from dgex import rulekit
from dgex.baselines import (check_grid, check_landmarks_vary, check_same_genes, landmarks_and_targets, ols_fit, ridge_path,
                            training_products)
from dgex.io import InputError, atomic_path, write_text, write_tsv
from dgex.knn import KnnModel, knn_neighbors
from dgex.lasso import lasso_path
from dgex.matrix import Matrix, load_matrix, save_matrix
from dgex.tuning import load_selection_splits, select_knn, select_linear, selection_record


def fit_linear_regression(smk, log):
    """LR: OLS with intercept per target, one solve, and its predictions."""
    with threadpool_limits(smk.threads):
        tr = load_matrix(smk.input.train)
        try:
            P = training_products(*landmarks_and_targets(tr))
            check_landmarks_vary(P, tr.landmarks, smk.input.train)
            fit = ols_fit(P)
        except InputError:
            raise
        except ValueError as exc:
            raise InputError(f"{smk.input.train}: {exc}") from exc
        model = fit.model
        if fit.min_norm:
            log.warning("LR is the minimum-norm solution: %s", fit.reason)
        else:
            log.info("LR: %s", fit.reason)
        write_text(smk.output.solution, json.dumps(fit.record(), indent=2) + "\n")
        with atomic_path(smk.output.model) as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, W=model.W, b=model.b, landmarks=np.array(tr.landmarks), targets=np.array(tr.targets))
        for path in smk.output.predictions:
            split = Path(path).stem
            m = load_matrix(smk.input[split])
            check_same_genes(tr, m, smk.input[split])
            X, Y = landmarks_and_targets(m)
            pred = model.predict(X)
            log.info("%s: MAE %.5f", split, float(np.abs(pred - Y).mean()))
            save_matrix(path, Matrix(pred, m.samples, m.targets, 0))


def fit_penalized_regression(smk, log):
    """LR-L1 / LR-L2 over the lambda grid, lambda chosen on validation."""
    l1 = smk.params.penalty == "l1"
    method = "lr_l1" if l1 else "lr_l2"
    lambdas = check_grid(smk.params.lambdas, f"baselines.{method}_lambdas")
    selection = dict(smk.params.selection)  # evaluation split -> validation split its lambda is chosen on
    with threadpool_limits(smk.threads):
        train = load_matrix(smk.input.train)
        try:
            P = training_products(*landmarks_and_targets(train), with_yy=l1)
        except ValueError as exc:
            raise InputError(f"{smk.input.train}: {exc}") from exc
        splits, validation = load_selection_splits(train, smk.input, selection)
        genes = train.targets
        del train
        if l1:
            path = lasso_path(P, lambdas, tol=smk.params.tol, max_sweeps=smk.params.max_sweeps, log=log)
        else:
            path = ridge_path(P, lambdas)
        curve, best = select_linear(path, validation)
        log.info("validation curve:\n%s", curve.to_string(index=False))
        write_tsv(smk.output.curve, curve, float_format="%.8g")
        record = selection_record(method, "lambda", curve, {s: lam for s, (lam, _) in best.items()}, selection, log)
        write_text(smk.output.chosen, json.dumps(record, indent=2) + "\n")
        for path in smk.output.predictions:
            split = Path(path).stem
            m = splits[split]
            lam, model = best[selection[split]]
            log.info("%s: lambda %g (chosen on %s)", split, lam, selection[split])
            save_matrix(path, Matrix(model.predict(landmarks_and_targets(m)[0]), m.samples, genes, 0))


def fit_knn_ge(smk, log):
    """KNN-GE (each target the mean of its k nearest landmarks), k chosen on validation."""
    selection = dict(smk.params.selection)  # evaluation split -> validation split its k is chosen on
    with threadpool_limits(smk.threads):
        train = load_matrix(smk.input.train)
        ks = check_grid(smk.params.ks, "baselines.knn_k", integer=True)
        if ks[0] > train.n_landmarks:
            raise InputError(f"baselines.knn_k: every k ({ks.tolist()}) is out of range: {smk.input.train} has only "
                             f"{train.n_landmarks} landmarks")
        if ks[-1] > train.n_landmarks:  # the default grid must also serve small runs
            log.warning("baselines.knn_k: leaving out k=%s, above the %d landmarks of %s",
                        ks[ks > train.n_landmarks].tolist(), train.n_landmarks, smk.input.train)
            ks = ks[ks <= train.n_landmarks]
        try:
            neighbors = knn_neighbors(*landmarks_and_targets(train), int(ks[-1]))
        except ValueError as exc:
            raise InputError(f"{smk.input.train}: {exc}") from exc
        splits, validation = load_selection_splits(train, smk.input, selection)
        genes = train.targets
        del train
        curve, best = select_knn(neighbors, ks, validation)
        log.info("validation curve:\n%s", curve.to_string(index=False))
        write_tsv(smk.output.curve, curve, float_format="%.8g")
        write_text(smk.output.chosen, json.dumps(selection_record("knn", "k", curve, best, selection, log), indent=2) + "\n")
        for path in smk.output.predictions:
            split = Path(path).stem
            m = splits[split]
            k = best[selection[split]]
            log.info("%s: k=%d (chosen on %s)", split, k, selection[split])
            pred = KnnModel(neighbors[:, :k]).predict(landmarks_and_targets(m)[0])
            save_matrix(path, Matrix(pred, m.samples, genes, 0))


RULES = {"fit_linear_regression": fit_linear_regression, "fit_ridge_regression": fit_penalized_regression,
         "fit_lasso_regression": fit_penalized_regression, "fit_knn_ge": fit_knn_ge}

rulekit.run(snakemake, RULES[snakemake.rule])  # noqa: F821
