"""Rule join_dgex_predictions: one prediction matrix over all targets from the per-part networks."""
import numpy as np

from dgex import rulekit
from dgex.io import InputError
from dgex.matrix import Matrix, load_matrix, save_matrix


def main(smk, log):
    truth = load_matrix(smk.input.split, genes="landmarks")
    targets = load_matrix(smk.input.split).targets
    where = {g: j for j, g in enumerate(targets)}
    out = np.full((len(truth.samples), len(targets)), np.nan, dtype=np.float32)
    seen = np.zeros(len(targets), dtype=np.int64)
    for path in smk.input.parts:
        p = load_matrix(path)
        if p.samples != truth.samples:
            raise InputError(f"{path}: profiles differ from {smk.input.split}")
        unknown = [g for g in p.genes if g not in where]
        if unknown:
            raise InputError(f"{path}: {len(unknown)} gene(s) are not targets of {smk.input.split}, e.g. {unknown[:3]}")
        cols = np.array([where[g] for g in p.genes], dtype=np.int64)
        seen[cols] += 1
        out[:, cols] = p.values
    if (seen != 1).any():
        missing, twice = np.flatnonzero(seen == 0), np.flatnonzero(seen > 1)
        raise InputError(f"parts {list(smk.input.parts)}: {len(missing)} target(s) without a prediction "
                         f"(e.g. {[targets[j] for j in missing[:3]]}), {len(twice)} predicted by several parts "
                         f"(e.g. {[targets[j] for j in twice[:3]]})")
    log.info("joined %d parts: %d profiles x %d targets", len(smk.input.parts), *out.shape)
    save_matrix(smk.output.predictions, Matrix(out, truth.samples, targets, 0))


rulekit.run(snakemake, main)  # noqa: F821
