"""Rule quantile_normalize: map every profile of a dataset onto the GEO reference by rank."""
import pandas as pd

from dgex import rulekit
from dgex.matrix import Matrix, load_matrix, save_matrix
from dgex.normalize import map_to_reference


def main(smk, log):
    m = load_matrix(smk.input.matrix)
    if smk.wildcards.dataset == "geo":  # only the deduplicated profiles, in split-assignment order
        a = pd.read_csv(smk.input.assignment, sep="\t")
        index = {s: i for i, s in enumerate(m.samples)}
        m = m.subset([index[s] for s in a["sample"].astype(str)])
    ref = pd.read_csv(smk.input.reference, sep="\t")["value"].to_numpy()
    values = map_to_reference(m.values, ref, ties=smk.params.qnorm["ties"])
    log.info("%s: %d profiles mapped onto the reference (ties: %s)", smk.wildcards.dataset, len(values), smk.params.qnorm["ties"])
    save_matrix(smk.output.matrix, Matrix(values, m.samples, m.genes, m.n_landmarks, m.attrs))


rulekit.run(snakemake, main)  # noqa: F821
