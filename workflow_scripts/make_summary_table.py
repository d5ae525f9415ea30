"""Rule make_summary_table: Table 1 (GEO-te) / Table 2 (GTEx-te), overall error of every method (TSV, Markdown, HTML)."""
from dgex import rulekit
from dgex.paper_values import scale_caveat, show_paper_values
from dgex.tables import gene_set_size, load_per_gene, mark_solutions, summary, summary_document, with_paper_values, write_table


def main(smk, log):
    t = smk.params.tables
    split = smk.wildcards.split
    df = summary(load_per_gene(list(smk.input.test)), load_per_gene(list(smk.input.validation)), t["dropout"])
    df, notes = mark_solutions(df, list(smk.input.solutions))
    caveat = None
    if show_paper_values(t["paper_values"], *gene_set_size(smk.input.genes)):
        df, caveat = with_paper_values(df, split), scale_caveat([split], smk.params.standardization)
    doc = summary_document(df, split, t["decimals"], t["percent_decimals"], caveat)
    doc.notes += notes
    write_table(smk.output, df, doc, log)


rulekit.run(snakemake, main)  # noqa: F821
