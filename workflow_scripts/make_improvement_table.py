"""Rule make_improvement_table: relative improvement of the selected D-GEX over each baseline and its share of genes won."""
from dgex import rulekit
from dgex.tables import VALIDATION_OF, improvement_document, improvement_table, load_per_gene, mark_solutions, write_table


def main(smk, log):
    splits = list(smk.params.test_splits)
    tests = {s: load_per_gene(list(smk.input[s])) for s in splits}
    validations = {s: load_per_gene(list(smk.input[VALIDATION_OF[s]])) for s in splits}
    df = improvement_table(tests, validations)
    df, notes = mark_solutions(df, list(smk.input.solutions))
    t = smk.params.tables
    doc = improvement_document(df, t["decimals"], t["percent_decimals"])
    doc.notes += notes
    write_table(smk.output, df, doc, log)


rulekit.run(snakemake, main)  # noqa: F821
