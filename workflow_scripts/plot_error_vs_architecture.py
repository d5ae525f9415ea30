"""Rule plot_error_vs_architecture: Fig. 1, overall error of D-GEX by hidden layers x units and dropout, LR as reference."""
from dgex import rulekit
from dgex.figures import architecture_figure, baseline_references, save_figure
from dgex.io import InputError
from dgex.layout import split_label
from dgex.selection import dgex_mask, load_per_gene, overall, select_dgex


def main(smk, log):
    f = smk.params.figures
    split = smk.wildcards.split
    ov = overall(load_per_gene(list(smk.input.test)))
    selected = select_dgex(load_per_gene(list(smk.input.validation)))
    dgex = ov[dgex_mask(ov["method"])]
    shown = list(f["architectures"])
    if shown:
        dgex = dgex[[f"{r.layers}x{r.units}" in shown for r in dgex.itertuples()]]
        if dgex.empty:
            raise InputError(f"figures.architectures={shown} matches no D-GEX architecture of the grid "
                             f"(layers x units: {sorted({f'{r.layers}x{r.units}' for r in ov[dgex_mask(ov['method'])].itertuples()})})")
    refs = baseline_references(ov, f["reference_lines"], f["colors"])
    fig = architecture_figure(dgex, refs, f"Fig. 1: D-GEX overall error by architecture on {split_label(split)}",
                              f["colormap"], selected, f"{split_label(split)} overall error")
    save_figure(fig, smk.output.png, smk.output.svg, f["dpi"])
    log.info("selected D-GEX %s; %d architectures drawn", selected, len(dgex))


rulekit.run(snakemake, main)  # noqa: F821
