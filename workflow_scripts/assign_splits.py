"""Rule assign_splits: seeded GEO-tr/va/te assignment of the deduplicated profiles."""
from dgex import rulekit
from dgex.artifacts import read_kept_profiles
from dgex.io import write_tsv
from dgex.splits import assign_splits


def main(smk, log):
    samples = read_kept_profiles(smk.input.keep)
    table = assign_splits(samples, dict(smk.params.splits), smk.params.seed)
    log.info("split sizes: %s", table["split"].value_counts().to_dict())
    write_tsv(smk.output.assignment, table)


rulekit.run(snakemake, main, seed=snakemake.params.seed)  # noqa: F821
