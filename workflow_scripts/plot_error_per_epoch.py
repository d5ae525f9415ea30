"""Rule plot_error_per_epoch: Fig. 5, overall error per epoch on a test split for every dropout rate, baselines as lines."""
from pathlib import Path

import pandas as pd

from dgex import rulekit
from dgex.architecture import Architecture
from dgex.artifacts import read_history, read_partition
from dgex.comparisons import overall_error_per_epoch
from dgex.figures import baseline_references, epoch_figure, save_figure
from dgex.layout import split_label
from dgex.selection import load_per_gene, method_label, overall, select_dgex


def main(smk, log):
    f = smk.params.figures
    split = smk.wildcards.split
    ov = overall(load_per_gene(list(smk.input.test)))
    selected = Architecture.from_method(select_dgex(load_per_gene(list(smk.input.validation))))
    sizes = read_partition(smk.input.partition)["part"].value_counts().to_dict()
    # arch -> part -> history, for the selected layers x units at every dropout rate
    histories: dict[Architecture, dict[int, pd.DataFrame]] = {}
    for p in smk.input.histories:
        arch, part = Architecture.parse(Path(p).parent.parent.name), int(Path(p).parent.name.removeprefix("part"))
        if arch.shape == selected.shape:
            histories.setdefault(arch, {})[part] = read_history(p)
    curves = []
    for arch in sorted(histories, key=lambda a: a.dropout):
        curves.append((method_label(arch.method), overall_error_per_epoch(histories[arch], sizes, split)))
    refs = baseline_references(ov, f["reference_lines"], f["colors"])
    title = f"Fig. 5: D-GEX {selected.shape} overall error per epoch on {split_label(split)}, by dropout rate"
    fig = epoch_figure(curves, refs, title, f["colormap"], f"{split_label(split)} overall error")
    save_figure(fig, smk.output.png, smk.output.svg, f["dpi"])
    log.info("curves of %s over %d target parts", sorted(a.name for a in histories), len(sizes))


rulekit.run(snakemake, main)  # noqa: F821
