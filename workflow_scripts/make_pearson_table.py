"""Rule make_pearson_table: per-gene Pearson correlation next to per-gene MAE for every method and test split."""
from dgex import rulekit
from dgex.comparisons import pearson_table
from dgex.render import write_table
from dgex.selection import load_per_gene
from dgex.tables import pearson_document


def main(smk, log):
    df = pearson_table({s: load_per_gene(list(smk.input[s])) for s in smk.params.test_splits})
    doc = pearson_document(df, smk.params.tables["decimals"])
    write_table(smk.output, df, doc, log)


rulekit.run(snakemake, main)  # noqa: F821
