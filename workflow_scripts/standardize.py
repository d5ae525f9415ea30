"""Rule standardize: per-gene standardization with GEO-tr statistics (leak-free) or each dataset's own."""
import numpy as np
import pandas as pd

from dgex import rulekit
from dgex.io import write_tsv
from dgex.matrix import Matrix, load_matrix, save_matrix
from dgex.normalize import gene_stats, standardize


def main(smk, log):
    m = load_matrix(smk.input.matrix)
    which = smk.params.standardization["stats"]
    if which == "geo_tr":
        geo = load_matrix(smk.input.geo)
        a = pd.read_csv(smk.input.assignment, sep="\t")
        tr = set(a.loc[a["split"] == "geo_tr", "sample"].astype(str))
        rows = np.array([i for i, s in enumerate(geo.samples) if s in tr])
        mean, std = gene_stats(geo.values[rows])
    else:
        mean, std = gene_stats(m.values)
    log.info("%s: statistics from %s", smk.wildcards.dataset, which)
    save_matrix(smk.output.matrix, Matrix(standardize(m.values, mean, std), m.samples, m.genes, m.n_landmarks, m.attrs))
    write_tsv(smk.output.stats, pd.DataFrame({"gene": m.genes, "role": ["landmark"] * m.n_landmarks + ["target"] * len(m.targets),
                                              "mean": mean, "std": std}), float_format="%.9g")


rulekit.run(snakemake, main)  # noqa: F821
