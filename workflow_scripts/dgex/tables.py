"""The paper's tables as documents: Table 1/2, the supplementary dropout tables, improvement and Pearson (text and layout)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .layout import VALIDATION_OF, split_label
from .paper_values import CITATION, SOURCES
from .render import Block, Document, fmt, fmt_pct, fmt_pm
from .selection import dgex_mask

# test split -> the paper's table number
PAPER_TABLE = {"geo_te": "Table 1", "gtex_te": "Table 2"}


MAE_NOTE = ("Overall error: the mean over target genes of the per-gene mean absolute error (MAE, standardized expression "
            "units) ± its standard deviation over genes; lower is better.")


def paper_notes(caveat: str | None) -> list[str]:
    """The notes under a table that shows the paper's published values: what they are, their sources, a scale caveat."""
    notes = [f"Paper columns: the values published in {CITATION}, beside this run's; blank where the paper's number is "
             "not on record here (workflow_scripts/dgex/paper_values.py lists each value with its source). For the "
             "selected D-GEX the paper's value is that of the D-GEX the paper selected on validation."]
    notes.append(f"Sources: the relative improvements and shares of genes, {SOURCES['abstract']}; the overall errors, "
                 f"{SOURCES['tables']}.")
    return notes + ([caveat] if caveat else [])


def summary_document(df: pd.DataFrame, split: str, decimals: int, pct_decimals: int, caveat: str | None = None) -> Document:
    """Table 1 (GEO-te) / Table 2 (GTEx-te) for display, with the paper's published values when `df` has them."""
    val = VALIDATION_OF.get(split, "validation")
    dg = dgex_mask(df["method"])
    pct = df.loc[dg, "dropout_pct"].iloc[0]
    paper = "paper_mae" in df.columns
    rows, bold = [], set()
    for i, r in enumerate(df.itertuples(index=False)):
        marks = (" (selected)" if r.selected else "")
        row = {"method": r.label + marks, f"{split_label(split)} MAE": fmt_pm(r.mae, r.mae_sd, decimals)}
        if paper:
            row[f"paper {split_label(split)} MAE"] = fmt(r.paper_mae, decimals)
        row |= {
            f"{split_label(val)} MAE": fmt_pm(r.validation_mae, r.validation_mae_sd, decimals),
            "Pearson r": fmt_pm(r.pearson, r.pearson_sd, decimals),
            "improvement of selected D-GEX": fmt_pct(r.improvement_pct, pct_decimals),
        }
        if paper:
            row["paper improvement"] = fmt_pct(r.paper_improvement_pct, pct_decimals)
        row["genes where selected D-GEX is lower"] = fmt_pct(r.share_genes_dgex_lower_pct, pct_decimals)
        if paper:
            row["paper genes lower"] = fmt_pct(r.paper_share_genes_dgex_lower_pct, pct_decimals)
        rows.append(row)
        if r.best_test:
            bold.add((i, f"{split_label(split)} MAE"))
    title = f"{PAPER_TABLE.get(split, 'Table')}: overall errors on {split_label(split)}"
    notes = [MAE_NOTE,
             f"D-GEX rows: every layers x units of the grid at dropout {pct}% (setting tables.dropout; by default the rate of "
             f"the D-GEX selected on {split_label(val)}). Bold: lowest error on {split_label(split)}; (selected): lowest "
             f"error on {split_label(val)}.",
             "Improvement: (baseline - D-GEX) / baseline of the overall error; genes where lower: share of target genes on "
             "which the selected D-GEX has the strictly lower per-gene MAE. Pearson r: mean ± sd over genes of the per-gene "
             "correlation between inferred and measured expression."]
    if paper:
        notes += paper_notes(caveat)
    return Document(title, notes, [Block("", pd.DataFrame(rows), bold)])


def dropout_document(df: pd.DataFrame, split: str, decimals: int) -> Document:
    """A supplementary table: baselines, then D-GEX layers x units (rows) by dropout rate (columns)."""
    blocks = []
    base = df[~dgex_mask(df["method"])].reset_index(drop=True)
    if len(base):
        frame = pd.DataFrame({"method": base["label"],
                              "MAE": [fmt_pm(m, s, decimals) for m, s in zip(base["mae"], base["mae_sd"])]})
        bold = {(i, "MAE") for i in np.flatnonzero(base["best"].to_numpy())}
        blocks.append(Block("Baselines", frame, bold))
    d = df[dgex_mask(df["method"])]
    rates = sorted(d["dropout_pct"].unique())
    shapes = d[["layers", "units"]].drop_duplicates().sort_values(["layers", "units"])
    rows, bold = [], set()
    for i, (layers, units) in enumerate(shapes.itertuples(index=False)):
        row = {"hidden layers x units": f"{layers}x{units}"}
        for rate in rates:
            hit = d[(d["layers"] == layers) & (d["units"] == units) & (d["dropout_pct"] == rate)]
            col = f"D-GEX-{rate}%"
            row[col] = fmt_pm(hit["mae"].iloc[0], hit["mae_sd"].iloc[0], decimals) if len(hit) else ""
            if len(hit) and hit["best_dgex"].iloc[0]:
                bold.add((i, col))
        rows.append(row)
    blocks.append(Block("D-GEX: hidden layers x units by dropout rate", pd.DataFrame(rows), bold))
    notes = [MAE_NOTE, f"Every method and every D-GEX architecture and dropout rate of the grid on {split_label(split)} "
                       "(as the paper's Supplementary Tables S2-S5). Bold: lowest baseline error and lowest D-GEX error."]
    return Document(f"Overall errors on {split_label(split)} for every dropout rate", notes, blocks)


def improvement_document(df: pd.DataFrame, decimals: int, pct_decimals: int, caveat: str | None = None) -> Document:
    """Relative improvement of the selected D-GEX over each baseline, per test split (and the paper's, when `df` has them)."""
    paper = "paper_dgex_mae" in df.columns
    cols = {
        "test set": [split_label(s) for s in df["split"]],
        "selected D-GEX": df["dgex_label"],
        "baseline": df["baseline_label"],
        "D-GEX MAE": [fmt(x, decimals) for x in df["dgex_mae"]],
        "paper D-GEX MAE": [fmt(x, decimals) for x in df["paper_dgex_mae"]] if paper else None,
        "baseline MAE": [fmt(x, decimals) for x in df["baseline_mae"]],
        "paper baseline MAE": [fmt(x, decimals) for x in df["paper_baseline_mae"]] if paper else None,
        "relative improvement": [fmt_pct(x, pct_decimals) for x in df["improvement_pct"]],
        "paper improvement": [fmt_pct(x, pct_decimals) for x in df["paper_improvement_pct"]] if paper else None,
        "genes where D-GEX is lower": [fmt_pct(x, pct_decimals) for x in df["share_genes_dgex_lower_pct"]],
        "paper genes lower": [fmt_pct(x, pct_decimals) for x in df["paper_share_genes_dgex_lower_pct"]] if paper else None,
        "target genes": [f"{n:,}" for n in df["n_genes"]],
    }
    frame = pd.DataFrame({k: v for k, v in cols.items() if v is not None})
    notes = ["The D-GEX architecture selected on each test set's validation set (GEO-va for GEO-te, 1000G-va for GTEx-te) "
             "against every baseline. Relative improvement: (baseline - D-GEX) / baseline of the overall error (mean "
             "per-gene MAE). Genes where D-GEX is lower: share of target genes on which D-GEX has the strictly lower "
             "per-gene MAE (the paper: 99.97% against LR on GEO-te, 81.31% on GTEx-te)."]
    if paper:
        notes += paper_notes(caveat)
    return Document("Relative improvement of D-GEX over the baselines", notes, [Block("", frame)])


def pearson_document(df: pd.DataFrame, decimals: int) -> Document:
    """Per-gene Pearson correlation next to per-gene MAE for every method and test split."""
    blocks = []
    for split, g in df.groupby("split", sort=False):
        g = g.reset_index(drop=True)
        frame = pd.DataFrame({
            "method": g["label"],
            "MAE": [fmt_pm(m, s, decimals) for m, s in zip(g["mae"], g["mae_sd"])],
            "Pearson r": [fmt_pm(m, s, decimals) for m, s in zip(g["pearson"], g["pearson_sd"])],
            "median Pearson r": [fmt(x, decimals) for x in g["pearson_median"]],
        })
        bold = {(int(g["mae"].idxmin()), "MAE")}
        if g["pearson"].notna().any():
            bold.add((int(g["pearson"].idxmax()), "Pearson r"))
        blocks.append(Block(split_label(split), frame, bold))
    notes = [MAE_NOTE, "Pearson r: the correlation between inferred and measured expression of each target gene over the "
                       "test profiles, mean ± sd and median over genes (higher is better; genes with constant inferred or "
                       "measured expression are left out). Bold: best per column."]
    return Document("Per-gene Pearson correlation and MAE on the test sets", notes, blocks)


def well_inferred_document(df: pd.DataFrame, rule: str, decimals: int, pct_decimals: int) -> Document:
    """How many targets each method infers well (dgex.target_reliability.well_inferred_counts), under `rule`."""
    frame = pd.DataFrame({
        "method": df["label"],
        "target genes": [f"{n:,}" for n in df["n_targets"]],
        "well inferred": [f"{n:,}" for n in df["n_well_inferred"]],
        "share": [fmt_pct(x, pct_decimals) for x in df["share_pct"]],
    })
    for col, split in (("median_test_r", "geo_te"), ("median_gtex_r", "gtex_te")):
        if col in df:
            frame[f"median Pearson r, {split_label(split)}"] = [fmt(x, decimals) for x in df[col]]
    bold = {(int(i), "share") for i in np.flatnonzero(df["share_pct"].to_numpy() == df["share_pct"].max())}
    notes = [f"Well inferred: {rule}. The flag dgex-infer writes for every inferred target (row metadata "
             "dgex_well_inferred, with dgex_test_mae and dgex_test_r) follows the same rule (setting inference.well_inferred).",
             "Every method and D-GEX architecture; a D-GEX is scored on each test set with its network selected on that "
             "test set's validation set (GEO-va for GEO-te, 1000G-va for GTEx-te). Bold: largest share. Every target's "
             "fields are in reliability_per_target.tsv."]
    return Document("Target genes inferred well, per method", notes, [Block("", frame, bold)])
