"""Rule plot_error_per_epoch: Fig. 5, overall error per epoch on a test split for every dropout rate, baselines as lines."""
from pathlib import Path

import pandas as pd

from dgex import rulekit
from dgex.figures import baseline_references, epoch_figure, save_figure
from dgex.io import InputError
from dgex.tables import load_per_gene, method_label, overall, overall_error_per_epoch, parse_dgex, select_dgex, split_label


def main(smk, log):
    f = smk.params.figures
    split = smk.wildcards.split
    ov = overall(load_per_gene(list(smk.input.test)))
    selected = parse_dgex(select_dgex(load_per_gene(list(smk.input.validation))))
    partition = pd.read_csv(smk.input.partition, sep="\t", dtype={"gene": str})
    if "part" not in partition.columns:
        raise InputError(f"{smk.input.partition}: target partition lacks column 'part'")
    sizes = partition["part"].value_counts().to_dict()
    # arch -> part -> history, for the selected layers x units at every dropout rate
    histories: dict[str, dict[int, pd.DataFrame]] = {}
    for p in smk.input.histories:
        arch, part = Path(p).parent.parent.name, int(Path(p).parent.name.removeprefix("part"))
        a = parse_dgex(f"dgex_{arch}")
        if a is not None and (a.layers, a.units) == (selected.layers, selected.units):
            histories.setdefault(arch, {})[part] = pd.read_csv(p, sep="\t")
    curves = []
    for arch in sorted(histories, key=lambda a: parse_dgex(f"dgex_{a}").dropout):
        curves.append((method_label(f"dgex_{arch}"), overall_error_per_epoch(histories[arch], sizes, split)))
    refs = baseline_references(ov, f["reference_lines"], f["colors"])
    title = f"Fig. 5: D-GEX {selected.shape} overall error per epoch on {split_label(split)}, by dropout rate"
    fig = epoch_figure(curves, refs, title, f["colormap"], f"{split_label(split)} overall error")
    save_figure(fig, smk.output.png, smk.output.svg, f["dpi"])
    log.info("curves of %s over %d target parts", sorted(histories), len(sizes))


rulekit.run(snakemake, main)  # noqa: F821
