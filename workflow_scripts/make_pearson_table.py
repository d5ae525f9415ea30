"""Rule make_pearson_table: per-gene Pearson correlation next to per-gene MAE for every method and test split."""
from dgex import rulekit
from dgex.tables import load_per_gene, mark_solutions, pearson_document, pearson_table, write_table


def main(smk, log):
    df = pearson_table({s: load_per_gene(list(smk.input[s])) for s in smk.params.test_splits})
    df, notes = mark_solutions(df, list(smk.input.solutions))
    doc = pearson_document(df, smk.params.tables["decimals"])
    doc.notes += notes
    write_table(smk.output, df, doc, log)


rulekit.run(snakemake, main)  # noqa: F821
