"""Rule plot_per_gene_scatter: per-gene MAE of the selected D-GEX (x) against LR (y) on a test split."""
import pandas as pd

from dgex import rulekit
from dgex.figures import DEFAULT_COLORS, per_gene_scatter, save_figure
from dgex.tables import load_per_gene, method_label


def main(smk, log):
    summary = pd.read_csv(smk.input.summary, sep="\t")
    per_gene = load_per_gene(list(smk.input.per_gene))
    selected = summary.loc[summary["selected"], "method"].iloc[0]
    d, lr = per_gene[selected], per_gene["lr"]
    if list(d["gene"]) != list(lr["gene"]):
        raise ValueError("per-gene tables of D-GEX and LR list different genes")
    colors = DEFAULT_COLORS | dict(smk.params.figures.get("colors", {}))
    fig = per_gene_scatter(d["mae"].to_numpy(), lr["mae"].to_numpy(), method_label(selected), "LR",
                           f"Per-gene error on {smk.wildcards.split}", colors["dgex"], smk.params.figures["point_size"])
    save_figure(fig, smk.output.png, smk.output.svg, smk.params.figures["dpi"])


rulekit.run(snakemake, main)  # noqa: F821
