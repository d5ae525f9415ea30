"""Rule make_summary_table: Table 1 (GEO-te) / Table 2 (GTEx-te), overall error of every method (TSV, Markdown, HTML)."""
from dgex import rulekit
from dgex.io import write_text, write_tsv
from dgex.tables import load_per_gene, summary, summary_document, to_html, to_markdown


def main(smk, log):
    t = smk.params.tables
    df = summary(load_per_gene(list(smk.input.test)), load_per_gene(list(smk.input.validation)), t["dropout"])
    doc = summary_document(df, smk.wildcards.split, t["decimals"], t["percent_decimals"])
    write_tsv(smk.output.tsv, df, float_format="%.8g")
    write_text(smk.output.md, to_markdown(doc))
    write_text(smk.output.html, to_html(doc))
    log.info("\n%s", to_markdown(doc))


rulekit.run(snakemake, main)  # noqa: F821
