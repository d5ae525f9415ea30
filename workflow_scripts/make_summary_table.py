"""Rule make_summary_table: Table 1 (GEO-te) / Table 2 (GTEx-te), overall error of every method (TSV, Markdown, HTML)."""
from dgex import rulekit
from dgex.comparisons import summary
from dgex.render import write_table
from dgex.selection import load_per_gene
from dgex.tables import summary_document


def main(smk, log):
    t = smk.params.tables
    df = summary(load_per_gene(list(smk.input.test)), load_per_gene(list(smk.input.validation)), t["dropout"])
    doc = summary_document(df, smk.wildcards.split, t["decimals"], t["percent_decimals"])
    write_table(smk.output, df, doc, log)


rulekit.run(snakemake, main)  # noqa: F821
