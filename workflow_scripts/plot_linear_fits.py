"""Rule plot_linear_fits: Fig. 7, each target's adjusted R^2 on the last hidden layer versus on the landmarks."""
from dgex import rulekit
from dgex.artifacts import read_linear_fits
from dgex.interpret import plot_linear_fits


def main(smk, log):
    df = read_linear_fits(smk.input.per_gene)
    f = smk.params.figures
    plot_linear_fits(df, smk.output.png, smk.output.svg, f"D-GEX {smk.wildcards.arch}: linear fits on GEO-tr",
                     smk.params.color, f["point_size"], f["dpi"])


rulekit.run(snakemake, main)  # noqa: F821
