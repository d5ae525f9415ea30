"""Rule plot_error_density: Fig. 2, density of per-gene errors of the baselines and the selected D-GEX on a test split."""
from dgex import rulekit
from dgex.figures import density_figure, method_color, save_figure
from dgex.layout import VALIDATION_OF, split_label
from dgex.selection import load_per_gene, method_label, select_dgex


def main(smk, log):
    f = smk.params.figures
    split = smk.wildcards.split
    test = load_per_gene(list(smk.input.test))
    selected = select_dgex(load_per_gene(list(smk.input.validation)))
    methods = [m for m in f["compare_with"] if m in test] + [selected]
    curves = [(method_label(m) + (f" (selected on {split_label(VALIDATION_OF[split])})" if m == selected else ""),
               test[m]["mae"].to_numpy(), method_color(m, f["colors"])) for m in methods]
    fig = density_figure(curves, f"Fig. 2: per-gene errors on {split_label(split)} ({len(test[selected]):,} target genes)")
    save_figure(fig, smk.output.png, smk.output.svg, f["dpi"])
    log.info("densities of %s", methods)


rulekit.run(snakemake, main)  # noqa: F821
