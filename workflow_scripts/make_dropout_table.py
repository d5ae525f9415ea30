"""Rule make_dropout_table: every method, D-GEX architecture and dropout rate on one split (Supplementary Tables S2-S5)."""
from dgex import rulekit
from dgex.tables import dropout_document, dropout_table, load_per_gene, mark_solutions, write_table


def main(smk, log):
    df = dropout_table(load_per_gene(list(smk.input.per_gene)))
    df, notes = mark_solutions(df, list(smk.input.solutions))
    doc = dropout_document(df, smk.wildcards.split, smk.params.tables["decimals"])
    doc.notes += notes
    write_table(smk.output, df, doc, log)


rulekit.run(snakemake, main)  # noqa: F821
