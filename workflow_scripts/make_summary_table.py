"""Rule make_summary_table: Table 1/2-style overall error of every method on a test split (TSV + Markdown)."""
from dgex import rulekit
from dgex.io import write_text, write_tsv
from dgex.tables import load_per_gene, summary, to_markdown


def main(smk, log):
    df = summary(load_per_gene(list(smk.input.test)), load_per_gene(list(smk.input.validation)))
    df = df.set_index("method").loc[list(smk.params.methods)].reset_index()
    decimals = smk.params.tables["decimals"]
    write_tsv(smk.output.tsv, df, float_format=f"%.{decimals + 2}f")
    write_text(smk.output.md, to_markdown(df, smk.wildcards.split, decimals))
    log.info("\n%s", to_markdown(df, smk.wildcards.split, decimals))


rulekit.run(snakemake, main)  # noqa: F821
