"""Rule fit_linear_regression: the LR baseline (OLS with intercept per target, one solve) and its predictions.

With fewer training profiles than landmarks (or collinear landmarks) LR is the minimum-norm least-squares fit;
models/lr/solution.json records which, for the tables.
"""
import json
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from dgex import rulekit
from dgex.baselines import check_landmarks_vary, check_same_genes, landmarks_and_targets, ols_fit, training_products
from dgex.io import InputError, atomic_path, write_text
from dgex.matrix import Matrix, load_matrix, save_matrix


def main(smk, log):
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


rulekit.run(snakemake, main)  # noqa: F821
