"""Rule write_split: one split's profiles (GEO-tr/va/te from the assignment; 1000G-va and GTEx-te whole)."""
import pandas as pd

from dgex import rulekit
from dgex.matrix import load_matrix, save_matrix


def main(smk, log):
    m = load_matrix(smk.input.matrix)
    split = smk.wildcards.split
    if split.startswith("geo_"):
        a = pd.read_csv(smk.input.assignment, sep="\t")
        index = {s: i for i, s in enumerate(m.samples)}
        m = m.subset([index[s] for s in a.loc[a["split"] == split, "sample"].astype(str)])
    if not m.samples:
        raise ValueError(f"split {split} is empty")
    log.info("%s: %d profiles", split, len(m.samples))
    save_matrix(smk.output.split, m)


rulekit.run(snakemake, main)  # noqa: F821
