"""Rule make_improvement_table: relative improvement of the selected D-GEX over each baseline and its share of genes won."""
from dgex import rulekit
from dgex.paper_values import scale_caveat, show_paper_values
from dgex.tables import (VALIDATION_OF, gene_set_size, improvement_document, improvement_table,
                         improvement_with_paper_values, load_per_gene, mark_solutions, write_table)


def main(smk, log):
    splits = list(smk.params.test_splits)
    tests = {s: load_per_gene(list(smk.input[s])) for s in splits}
    validations = {s: load_per_gene(list(smk.input[VALIDATION_OF[s]])) for s in splits}
    df = improvement_table(tests, validations)
    df, notes = mark_solutions(df, list(smk.input.solutions))
    t = smk.params.tables
    caveat = None
    if show_paper_values(t["paper_values"], *gene_set_size(smk.input.genes)):
        df, caveat = improvement_with_paper_values(df), scale_caveat(splits, smk.params.standardization)
    doc = improvement_document(df, t["decimals"], t["percent_decimals"], caveat)
    doc.notes += notes
    write_table(smk.output, df, doc, log)


rulekit.run(snakemake, main)  # noqa: F821
