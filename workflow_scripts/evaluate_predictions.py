"""Rule evaluate_predictions: per-gene MAE and Pearson r of one method on one split."""
from dgex import rulekit
from dgex.evaluate import per_gene_table
from dgex.io import write_tsv
from dgex.matrix import load_matrix


def main(smk, log):
    pred = load_matrix(smk.input.predictions)
    truth = load_matrix(smk.input.truth)
    if pred.samples != truth.samples or pred.genes != truth.targets:
        raise ValueError(f"{smk.input.predictions}: profiles or target genes differ from {smk.input.truth}")
    table = per_gene_table(truth.targets, truth.Y, pred.values)
    log.info("%s on %s: mean per-gene MAE %.5f over %d genes", smk.wildcards.method, smk.wildcards.split, table["mae"].mean(),
             len(table))
    write_tsv(smk.output.per_gene, table, float_format="%.8g")


rulekit.run(snakemake, main)  # noqa: F821
