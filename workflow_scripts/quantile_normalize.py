"""Rule quantile_normalize: map every profile of a dataset onto the GEO reference by rank (block by block)."""
from dgex import rulekit
from dgex.artifacts import read_assignment, read_reference
from dgex.io import InputError
from dgex.matrix import save_matrix
from dgex.normalize import map_to_reference
from dgex.stream import gather, matrix_info


def main(smk, log):
    dataset, ties = smk.wildcards.dataset, smk.params.qnorm["ties"]
    ref = read_reference(smk.input.reference)
    if dataset == "geo":  # only the deduplicated profiles, in split-assignment order
        samples = read_assignment(smk.input.assignment)["sample"].tolist()
        what = f"the split assignment {smk.input.assignment}"
    else:
        samples, what = matrix_info(smk.input.matrix).samples, "the dataset"
    if len(ref) != matrix_info(smk.input.matrix).shape[1]:
        raise InputError(f"{smk.input.reference}: {len(ref)} reference values, but {smk.input.matrix} has "
                         f"{matrix_info(smk.input.matrix).shape[1]} genes")
    m = gather(smk.input.matrix, samples, what,
               transform=lambda v: map_to_reference(v, ref, ties=ties, microarray=dataset == "geo"),
               label=f"quantile normalization of {dataset}")
    log.info("%s: %d profiles mapped onto the reference (ties: %s)", dataset, len(m.samples), ties)
    save_matrix(smk.output.matrix, m)


rulekit.run(snakemake, main)  # noqa: F821
