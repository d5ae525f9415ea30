"""Rule make_pearson_table: per-gene Pearson correlation next to per-gene MAE for every method and test split."""
from dgex import rulekit
from dgex.io import write_text, write_tsv
from dgex.tables import load_per_gene, pearson_document, pearson_table, to_html, to_markdown


def main(smk, log):
    df = pearson_table({s: load_per_gene(list(smk.input[s])) for s in smk.params.test_splits})
    doc = pearson_document(df, smk.params.tables["decimals"])
    write_tsv(smk.output.tsv, df, float_format="%.8g")
    write_text(smk.output.md, to_markdown(doc))
    write_text(smk.output.html, to_html(doc))
    log.info("\n%s", to_markdown(doc))


rulekit.run(snakemake, main)  # noqa: F821
