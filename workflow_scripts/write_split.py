"""Rule write_split: one split's profiles (GEO-tr/va/te from the assignment; 1000G-va and GTEx-te whole)."""
from dgex import rulekit
from dgex.artifacts import read_assignment, split_samples
from dgex.io import InputError
from dgex.layout import GEO_SPLITS
from dgex.matrix import save_matrix
from dgex.stream import gather, matrix_info


def main(smk, log):
    split = smk.wildcards.split
    if split in GEO_SPLITS:
        samples = split_samples(read_assignment(smk.input.assignment), split)
    else:
        samples = matrix_info(smk.input.matrix).samples
    if not samples:
        raise InputError(f"split {split} is empty (from {smk.input.matrix} and {smk.input.assignment})")
    m = gather(smk.input.matrix, samples, f"split {split}", label=f"split {split}")
    log.info("%s: %d profiles", split, len(m.samples))
    save_matrix(smk.output.split, m)


rulekit.run(snakemake, main)  # noqa: F821
