"""Rule make_improvement_table: relative improvement of the selected D-GEX over each baseline and its share of genes won."""
from dgex import rulekit
from dgex.comparisons import improvement_table
from dgex.layout import VALIDATION_OF
from dgex.render import write_table
from dgex.selection import load_per_gene
from dgex.tables import improvement_document


def main(smk, log):
    splits = list(smk.params.test_splits)
    tests = {s: load_per_gene(list(smk.input[s])) for s in splits}
    validations = {s: load_per_gene(list(smk.input[VALIDATION_OF[s]])) for s in splits}
    df = improvement_table(tests, validations)
    t = smk.params.tables
    doc = improvement_document(df, t["decimals"], t["percent_decimals"])
    write_table(smk.output, df, doc, log)


rulekit.run(snakemake, main)  # noqa: F821
