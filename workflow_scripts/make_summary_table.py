"""Rule make_summary_table: Table 1 (GEO-te) / Table 2 (GTEx-te), overall error of every method (TSV, Markdown, HTML)."""
from dgex import rulekit
from dgex.tables import load_per_gene, mark_solutions, summary, summary_document, write_table


def main(smk, log):
    t = smk.params.tables
    df = summary(load_per_gene(list(smk.input.test)), load_per_gene(list(smk.input.validation)), t["dropout"])
    df, notes = mark_solutions(df, list(smk.input.solutions))
    doc = summary_document(df, smk.wildcards.split, t["decimals"], t["percent_decimals"])
    doc.notes += notes
    write_table(smk.output, df, doc, log)


rulekit.run(snakemake, main)  # noqa: F821
