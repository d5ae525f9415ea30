"""Rule standardize: per-gene standardization with GEO-tr statistics (leak-free) or each dataset's own."""
import pandas as pd

from dgex import rulekit
from dgex.artifacts import read_assignment, split_samples
from dgex.io import write_tsv
from dgex.layout import TRAIN_SPLIT
from dgex.matrix import save_matrix
from dgex.normalize import gene_stats, standardize
from dgex.stream import gather, iter_blocks, matrix_info, row_index


def main(smk, log):
    which = smk.params.standardization["stats"]
    if which == TRAIN_SPLIT:
        tr = split_samples(read_assignment(smk.input.assignment), TRAIN_SPLIT)
        rows = row_index(matrix_info(smk.input.geo), tr, f"GEO-tr of {smk.input.assignment}")
        mean, std = gene_stats(v for _, v in iter_blocks(smk.input.geo, rows, label="gene statistics of GEO-tr", reuse=True))
    else:
        blocks = iter_blocks(smk.input.matrix, label=f"gene statistics of {smk.wildcards.dataset}", reuse=True)
        mean, std = gene_stats(v for _, v in blocks)
    info = matrix_info(smk.input.matrix)
    m = gather(smk.input.matrix, info.samples, "the dataset", transform=lambda v: standardize(v, mean, std),
               label=f"standardization of {smk.wildcards.dataset}")
    log.info("%s: %d profiles standardized with statistics from %s", smk.wildcards.dataset, len(m.samples), which)
    save_matrix(smk.output.matrix, m)
    write_tsv(smk.output.stats, pd.DataFrame({"gene": m.genes, "role": ["landmark"] * m.n_landmarks + ["target"] * len(m.targets),
                                              "mean": mean, "std": std}), float_format="%.9g")


rulekit.run(snakemake, main)  # noqa: F821
