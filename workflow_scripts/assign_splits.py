"""Rule assign_splits: seeded GEO-tr/va/te assignment of the deduplicated profiles."""
import pandas as pd

from dgex import rulekit
from dgex.io import write_tsv
from dgex.splits import assign_splits


def main(smk, log):
    kept = pd.read_csv(smk.input.keep, sep="\t")
    samples = kept.loc[kept["kept"] == 1, "sample"].astype(str).tolist()
    table = assign_splits(samples, dict(smk.params.splits), smk.params.seed)
    log.info("split sizes: %s", table["split"].value_counts().to_dict())
    write_tsv(smk.output.assignment, table)


rulekit.run(snakemake, main)  # noqa: F821
