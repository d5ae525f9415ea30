"""Rule join_dgex_predictions: one prediction matrix over all targets from the per-part networks."""
import numpy as np

from dgex import rulekit
from dgex.matrix import Matrix, load_matrix, save_matrix


def main(smk, log):
    truth = load_matrix(smk.input.split, genes="landmarks")
    targets = load_matrix(smk.input.split).targets
    where = {g: j for j, g in enumerate(targets)}
    out = np.full((len(truth.samples), len(targets)), np.nan, dtype=np.float32)
    for path in smk.input.parts:
        p = load_matrix(path)
        if p.samples != truth.samples:
            raise ValueError(f"{path}: profiles differ from {smk.input.split}")
        out[:, [where[g] for g in p.genes]] = p.values
    if np.isnan(out).any():
        raise ValueError(f"{int(np.isnan(out).any(axis=0).sum())} target(s) have no prediction from any part")
    log.info("joined %d parts: %d profiles x %d targets", len(smk.input.parts), *out.shape)
    save_matrix(smk.output.predictions, Matrix(out, truth.samples, targets, 0))


rulekit.run(snakemake, main)  # noqa: F821
