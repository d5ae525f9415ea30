"""Rule make_improvement_table: relative improvement of the selected D-GEX over each baseline and its share of genes won."""
from dgex import rulekit
from dgex.io import write_text, write_tsv
from dgex.tables import VALIDATION_OF, improvement_document, improvement_table, load_per_gene, to_html, to_markdown


def main(smk, log):
    splits = list(smk.params.test_splits)
    tests = {s: load_per_gene(list(smk.input[s])) for s in splits}
    validations = {s: load_per_gene(list(smk.input[VALIDATION_OF[s]])) for s in splits}
    df = improvement_table(tests, validations)
    t = smk.params.tables
    doc = improvement_document(df, t["decimals"], t["percent_decimals"])
    write_tsv(smk.output.tsv, df, float_format="%.8g")
    write_text(smk.output.md, to_markdown(doc))
    write_text(smk.output.html, to_html(doc))
    log.info("\n%s", to_markdown(doc))


rulekit.run(snakemake, main)  # noqa: F821
