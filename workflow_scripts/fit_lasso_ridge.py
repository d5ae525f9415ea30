"""Rules fit_lasso_regression / fit_ridge_regression: LR-L1 / LR-L2 over the lambda grid, chosen on validation."""
import json
from pathlib import Path

from threadpoolctl import threadpool_limits

from dgex import rulekit
from dgex.baselines import check_grid, landmarks_and_targets, ridge_path, training_products
from dgex.lasso import lasso_path
from dgex.tuning import load_selection_splits, select_linear, selection_record
from dgex.io import InputError, write_text, write_tsv
from dgex.matrix import Matrix, load_matrix, save_matrix


def main(smk, log):
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


rulekit.run(snakemake, main)  # noqa: F821
