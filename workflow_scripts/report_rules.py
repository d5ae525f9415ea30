"""Rules make_*_table and plot_* (rules/report.smk): the paper's tables and figures; the rule's name picks its function."""
from pathlib import Path

import pandas as pd

from dgex import rulekit
from dgex.architecture import Architecture
from dgex.artifacts import gene_set_size, read_history, read_partition
from dgex.comparisons import (dropout_table, improvement_table, improvement_with_paper_values, overall_error_per_epoch,
                              pearson_table, summary, with_paper_values)
from dgex.figures import (PAPER_SCATTER, architecture_figure, baseline_references, density_figure, epoch_figure, method_color,
                          save_figure, scatter_figure, well_inferred_figure)
from dgex.io import InputError, write_tsv
from dgex.layout import VALIDATION_OF, split_label
from dgex.paper_values import scale_caveat, show_paper_values
from dgex.render import write_table
from dgex.selection import dgex_mask, load_per_gene, mark_solutions, method_label, overall, select_dgex
from dgex.tables import dropout_document, improvement_document, pearson_document, summary_document, well_inferred_document
from dgex.target_reliability import WellInferredRule, per_target_reliability, well_inferred_counts


def make_summary_table(smk, log):
    """Table 1 (GEO-te) / Table 2 (GTEx-te), overall error of every method (TSV, Markdown, HTML)."""
    t = smk.params.tables
    split = smk.wildcards.split
    df = summary(load_per_gene(list(smk.input.test)), load_per_gene(list(smk.input.validation)), t["dropout"])
    df, notes = mark_solutions(df, list(smk.input.solutions))
    caveat = None
    if show_paper_values(t["paper_values"], *gene_set_size(smk.input.genes)):
        df, caveat = with_paper_values(df, split), scale_caveat([split], smk.params.standardization)
    doc = summary_document(df, split, t["decimals"], t["percent_decimals"], caveat)
    doc.notes += notes
    write_table(smk.output, df, doc, log)


def make_dropout_table(smk, log):
    """Every method, D-GEX architecture and dropout rate on one split (Supplementary Tables S2-S5)."""
    df = dropout_table(load_per_gene(list(smk.input.per_gene)))
    df, notes = mark_solutions(df, list(smk.input.solutions))
    doc = dropout_document(df, smk.wildcards.split, smk.params.tables["decimals"])
    doc.notes += notes
    write_table(smk.output, df, doc, log)


def make_improvement_table(smk, log):
    """Relative improvement of the selected D-GEX over each baseline and its share of genes won."""
    splits = list(smk.params.test_splits)
    tests = {s: load_per_gene(list(smk.input[s])) for s in splits}
    validations = {s: load_per_gene(list(smk.input[VALIDATION_OF[s]])) for s in splits}
    df = improvement_table(tests, validations)
    df, notes = mark_solutions(df, list(smk.input.solutions))
    t = smk.params.tables
    caveat = None
    if show_paper_values(t["paper_values"], *gene_set_size(smk.input.genes)):
        df, caveat = improvement_with_paper_values(df), scale_caveat(splits, smk.params.standardization)
    doc = improvement_document(df, t["decimals"], t["percent_decimals"], caveat)
    doc.notes += notes
    write_table(smk.output, df, doc, log)


def make_pearson_table(smk, log):
    """Per-gene Pearson correlation next to per-gene MAE for every method and test split."""
    df = pearson_table({s: load_per_gene(list(smk.input[s])) for s in smk.params.test_splits})
    df, notes = mark_solutions(df, list(smk.input.solutions))
    doc = pearson_document(df, smk.params.tables["decimals"])
    doc.notes += notes
    write_table(smk.output, df, doc, log)


def per_target(smk) -> tuple[WellInferredRule, pd.DataFrame]:
    """The well-inferred rule (inference.well_inferred) and every method's per-target reliability on the test splits."""
    rule = WellInferredRule.from_config(smk.params.well_inferred)
    return rule, per_target_reliability({s: load_per_gene(list(smk.input[s])) for s in smk.params.test_splits}, rule)


def make_well_inferred_table(smk, log):
    """How many targets each method infers well, and every target's reliability (reliability_per_target.tsv)."""
    rule, table = per_target(smk)
    write_tsv(smk.output.per_target, table, float_format="%.8g")
    df, notes = mark_solutions(well_inferred_counts(table), list(smk.input.solutions))
    t = smk.params.tables
    doc = well_inferred_document(df, rule.describe(), t["decimals"], t["percent_decimals"])
    doc.notes += notes
    write_table(smk.output, df, doc, log)


def plot_well_inferred(smk, log):
    """The share of targets each method infers well, under the rule of inference.well_inferred."""
    rule, table = per_target(smk)
    counts = well_inferred_counts(table)
    save_figure(well_inferred_figure(counts, rule.describe(), smk.params.figures["colors"]), smk.output.png,
                smk.output.svg, smk.params.figures["dpi"])
    log.info("%s: %s", rule.describe(), dict(zip(counts["method"], counts["n_well_inferred"])))


def plot_error_vs_architecture(smk, log):
    """Fig. 1, overall error of D-GEX by hidden layers x units and dropout, LR as reference."""
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
                             f"(layers x units: "
                             f"{sorted({f'{r.layers}x{r.units}' for r in ov[dgex_mask(ov['method'])].itertuples()})})")
    refs = baseline_references(ov, f["reference_lines"], f["colors"])
    fig = architecture_figure(dgex, refs, f"Fig. 1: D-GEX overall error by architecture on {split_label(split)}",
                              f["colormap"], selected, f"{split_label(split)} overall error")
    save_figure(fig, smk.output.png, smk.output.svg, f["dpi"])
    log.info("selected D-GEX %s; %d architectures drawn", selected, len(dgex))


def plot_error_density(smk, log):
    """Fig. 2, density of per-gene errors of the baselines and the selected D-GEX on a test split."""
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


def plot_per_gene_scatter(smk, log):
    """Fig. 3 (GEO-te) / Fig. 4 (GTEx-te), per-gene MAE of the selected D-GEX against each baseline."""
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


def plot_error_per_epoch(smk, log):
    """Fig. 5, overall error per epoch on a test split for every dropout rate, baselines as lines."""
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


RULES = {f.__name__: f for f in (make_summary_table, make_dropout_table, make_improvement_table, make_pearson_table,
                                  make_well_inferred_table, plot_error_vs_architecture, plot_error_density,
                                  plot_per_gene_scatter, plot_error_per_epoch, plot_well_inferred)}

rulekit.run(snakemake, RULES[snakemake.rule])  # noqa: F821
