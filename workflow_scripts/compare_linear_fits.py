"""Rule compare_linear_fits: adjusted R^2 of each target on the last hidden layer versus on the landmarks (GEO-tr).

The figure is drawn by plot_linear_fits, so a display setting never redoes the fits."""
import json

import numpy as np
from dgex import rulekit
from dgex.artifacts import part_genes, read_partition
from dgex.interpret import linear_fit_notes, linear_fits
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
    notes = linear_fit_notes(df)
    for note in notes:
        log.warning("%s", note)
    compared = df["hidden_better"].dropna()
    share = float(compared.mean()) if len(compared) else None

    def median(col):
        return None if df[col].isna().all() else float(df[col].median())

    summary = {"architecture": smk.wildcards.arch, "targets": len(df), "training_profiles": len(tr.samples),
               "share_hidden_better": share, "median_adj_r2_hidden": median("adj_r2_hidden"),
               "median_adj_r2_landmarks": median("adj_r2_landmarks"), "targets_compared": len(compared),
               "not_applicable": notes}
    if share is None:
        log.info("no target has both adjusted R^2 values: the comparison is not applicable")
    else:
        log.info("%.2f%% of %d targets fit better on the last hidden layer than on the landmarks", 100 * share, len(compared))
    write_tsv(smk.output.per_gene, df, float_format="%.6f", na_rep="n/a")
    write_text(smk.output.summary, json.dumps(summary, indent=1) + "\n")


rulekit.run(snakemake, main)  # noqa: F821
