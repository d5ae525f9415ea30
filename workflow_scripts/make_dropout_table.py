"""Rule make_dropout_table: every method, D-GEX architecture and dropout rate on one split (Supplementary Tables S2-S5)."""
from dgex import rulekit
from dgex.io import write_text, write_tsv
from dgex.tables import dropout_document, dropout_table, load_per_gene, to_html, to_markdown


def main(smk, log):
    df = dropout_table(load_per_gene(list(smk.input.per_gene)))
    doc = dropout_document(df, smk.wildcards.split, smk.params.tables["decimals"])
    write_tsv(smk.output.tsv, df, float_format="%.8g")
    write_text(smk.output.md, to_markdown(doc))
    write_text(smk.output.html, to_html(doc))
    log.info("\n%s", to_markdown(doc))


rulekit.run(snakemake, main)  # noqa: F821
