"""Rule compare_linear_fits: adjusted R^2 of each target on the last hidden layer versus on the landmarks (GEO-tr).

The figure is drawn by plot_linear_fits, so a display setting never redoes the fits."""
import json

import numpy as np
from dgex import rulekit
from dgex.artifacts import part_genes, read_partition
from dgex.interpret import linear_fits
from dgex.io import write_text, write_tsv
from dgex.logs import import_tensorflow
from dgex.matrix import load_matrix
from dgex.network import load_model


def main(smk, log):
    tf = import_tensorflow()  # without its start-up notices on the console
    tf.config.threading.set_intra_op_parallelism_threads(smk.threads)
    tr = load_matrix(smk.input.train)
    partition = read_partition(smk.input.partition)
    position = {g: i for i, g in enumerate(tr.targets)}
    columns = [np.array([position[g] for g in part_genes(partition, p)])
               for p in range(len(smk.input.models))]
    models = [load_model(f) for f in smk.input.models]
    df = linear_fits(models, tr.X, tr.Y, columns)
    df.insert(0, "gene", tr.targets)
    share = float(df["hidden_better"].mean())
    summary = {"architecture": smk.wildcards.arch, "targets": len(df), "training_profiles": len(tr.samples),
               "share_hidden_better": share, "median_adj_r2_hidden": float(df["adj_r2_hidden"].median()),
               "median_adj_r2_landmarks": float(df["adj_r2_landmarks"].median())}
    log.info("%.2f%% of %d targets fit better on the last hidden layer than on the landmarks", 100 * share, len(df))
    write_tsv(smk.output.per_gene, df, float_format="%.6f")
    write_text(smk.output.summary, json.dumps(summary, indent=1) + "\n")


rulekit.run(snakemake, main)  # noqa: F821
