"""Rule make_dropout_table: every method, D-GEX architecture and dropout rate on one split (Supplementary Tables S2-S5)."""
from dgex import rulekit
from dgex.comparisons import dropout_table
from dgex.render import write_table
from dgex.selection import load_per_gene
from dgex.tables import dropout_document


def main(smk, log):
    df = dropout_table(load_per_gene(list(smk.input.per_gene)))
    doc = dropout_document(df, smk.wildcards.split, smk.params.tables["decimals"])
    write_table(smk.output, df, doc, log)


rulekit.run(snakemake, main)  # noqa: F821
