"""Rule fit_linear_regression: the LR baseline (OLS with intercept per target, one solve) and its predictions."""
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from dgex import rulekit
from dgex.baselines import fit_ols
from dgex.io import atomic_path
from dgex.matrix import Matrix, load_matrix, save_matrix


def main(smk, log):
    with threadpool_limits(smk.threads):
        tr = load_matrix(smk.input.train)
        model = fit_ols(tr.X, tr.Y)
        with atomic_path(smk.output.model) as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, W=model.W, b=model.b, landmarks=np.array(tr.landmarks), targets=np.array(tr.targets))
        for path in smk.output.predictions:
            split = Path(path).stem
            m = load_matrix(smk.input[split])
            pred = model.predict(m.X)
            log.info("%s: MAE %.5f", split, float(np.abs(pred - m.Y).mean()))
            save_matrix(path, Matrix(pred, m.samples, m.targets, 0))


rulekit.run(snakemake, main)  # noqa: F821
