"""Rule plot_per_gene_scatter: Fig. 3 (GEO-te) / Fig. 4 (GTEx-te), per-gene MAE of the selected D-GEX against each baseline."""
from dgex import rulekit
from dgex.figures import PAPER_SCATTER, method_color, save_figure, scatter_figure
from dgex.layout import VALIDATION_OF, split_label
from dgex.selection import load_per_gene, method_label, select_dgex


def main(smk, log):
    f = smk.params.figures
    split = smk.wildcards.split
    test = load_per_gene(list(smk.input.test))
    selected = select_dgex(load_per_gene(list(smk.input.validation)))
    baselines = [m for m in f["compare_with"] if m in test]
    comparisons = [(method_label(m), test[m]["mae"].to_numpy(), method_color(m, f["colors"])) for m in baselines]
    title = (f"{PAPER_SCATTER.get(split, 'Figure')}: per-gene error on {split_label(split)}, "
             f"{method_label(selected)} (selected on {split_label(VALIDATION_OF[split])}) vs baselines")
    fig = scatter_figure(test[selected]["mae"].to_numpy(), method_label(selected), comparisons, title, f["point_size"])
    save_figure(fig, smk.output.png, smk.output.svg, f["dpi"])
    log.info("%s against %s", selected, baselines)


rulekit.run(snakemake, main)  # noqa: F821
