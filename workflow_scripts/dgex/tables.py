"""The paper's tables from per-gene evaluations: overall error (mean +- sd of per-gene MAE), selection, improvement, Pearson."""
from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .io import InputError, write_text, write_tsv
from .paper_values import CITATION, SELECTED_DGEX, SOURCES, paper_value

BASELINE_LABELS = {"lr": "LR", "lr_l1": "LR-L1", "lr_l2": "LR-L2", "knn": "KNN-GE"}
SPLIT_LABELS = {"geo_va": "GEO-va", "geo_te": "GEO-te", "g1000_va": "1000G-va", "gtex_te": "GTEx-te"}
# test split -> the validation split D-GEX is selected on for it
VALIDATION_OF = {"geo_te": "geo_va", "gtex_te": "g1000_va"}
# test split -> the paper's table and figure numbers
PAPER_TABLE = {"geo_te": "Table 1", "gtex_te": "Table 2"}
PAPER_SCATTER = {"geo_te": "Fig. 3", "gtex_te": "Fig. 4"}
ARCH_RE = re.compile(r"^dgex_h(\d+)x(\d+)_d(\d+)$")
PER_GENE_COLUMNS = ("gene", "mae", "pearson")


@dataclass(frozen=True)
class DgexArch:
    """A D-GEX architecture of the grid: hidden layers, units per layer, dropout rate in percent."""

    layers: int
    units: int
    dropout: int

    @property
    def shape(self) -> str:
        """Layers x units, as the paper writes it: 3x9000."""
        return f"{self.layers}x{self.units}"


def parse_dgex(method: str) -> DgexArch | None:
    """The architecture of a D-GEX method name (dgex_h3x9000_d25), or None for a baseline."""
    m = ARCH_RE.match(method)
    return DgexArch(int(m[1]), int(m[2]), int(m[3])) if m else None


def method_label(method: str) -> str:
    """Display name: lr -> LR, knn -> KNN-GE, dgex_h1x3000_d10 -> D-GEX-10% 1x3000."""
    arch = parse_dgex(method)
    if arch is not None:
        return f"D-GEX-{arch.dropout}% {arch.shape}"
    return BASELINE_LABELS.get(method, method)


def split_label(split: str) -> str:
    """The paper's name of a split: geo_te -> GEO-te."""
    return SPLIT_LABELS.get(split, split)


# --------------------------------------------------------------------------- loading
def read_per_gene(path: str | Path) -> pd.DataFrame:
    """One per-gene evaluation table (gene, mae, pearson), checked."""
    path = Path(path)
    try:
        df = pd.read_csv(path, sep="\t", dtype={"gene": str})
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputError(f"{path}: cannot read the per-gene evaluation table: {exc}") from exc
    missing = [c for c in PER_GENE_COLUMNS if c not in df.columns]
    if missing:
        raise InputError(f"{path}: per-gene evaluation table lacks column(s) {missing} (has {list(df.columns)})")
    if df.empty:
        raise InputError(f"{path}: per-gene evaluation table has no genes")
    if df["gene"].duplicated().any():
        raise InputError(f"{path}: gene {df.loc[df['gene'].duplicated(), 'gene'].iloc[0]!r} is listed twice")
    if not np.isfinite(df["mae"].to_numpy(np.float64)).all():
        raise InputError(f"{path}: column mae has missing or non-finite values")
    return df


def load_per_gene(paths: list[str]) -> dict[str, pd.DataFrame]:
    """method -> per-gene table, from evaluation/<method>/<split>.tsv paths; every method must list the same genes."""
    out: dict[str, pd.DataFrame] = {}
    first: tuple[str, pd.DataFrame] | None = None
    for p in paths:
        df = read_per_gene(p)
        if first is None:
            first = (str(p), df)
        elif set(df["gene"]) != set(first[1]["gene"]):
            diff = sorted(set(df["gene"]) ^ set(first[1]["gene"]))
            raise InputError(f"{p} and {first[0]} evaluate different target genes ({len(diff)} differ, e.g. {diff[:3]})")
        else:
            df = df.set_index("gene").loc[first[1]["gene"]].reset_index()
        out[Path(p).parent.name] = df
    return out


MIN_NORM_MARK = " (min-norm)"


def mark_solutions(df: pd.DataFrame, solutions: list[str]) -> tuple[pd.DataFrame, list[str]]:
    """Labels of baselines solved as a minimum-norm fit (models/<method>/solution.json) marked, and the notes saying why.

    Marks the `label` of rows whose `method` matches, and the `baseline_label` of rows whose `baseline` does.
    """
    notes, marked = [], []
    for path in solutions:
        try:
            rec = json.loads(Path(path).read_text())
            method, min_norm, reason = rec["method"], bool(rec["min_norm"]), rec["reason"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InputError(f"{path}: cannot read the baseline's solution record: {exc}") from exc
        if min_norm:
            marked.append(method)
            notes.append(f"{method_label(method)}{MIN_NORM_MARK}: {reason}.")
    df = df.copy()
    for method_col, label_col in (("method", "label"), ("baseline", "baseline_label")):
        if method_col in df and label_col in df:
            hit = df[method_col].isin(marked)
            df.loc[hit, label_col] = df.loc[hit, label_col] + MIN_NORM_MARK
    return df, notes


# --------------------------------------------------------------------------- overall errors
def overall(per_gene: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per method: overall error (mean of per-gene MAE) +- sd over genes, and per-gene Pearson r summaries."""
    rows = []
    for method, t in per_gene.items():
        arch = parse_dgex(method)
        mae = t["mae"].to_numpy(np.float64)
        r = t["pearson"].to_numpy(np.float64)
        r = r[np.isfinite(r)]
        rows.append({
            "method": method,
            "label": method_label(method),
            "layers": arch.layers if arch else pd.NA,
            "units": arch.units if arch else pd.NA,
            "dropout_pct": arch.dropout if arch else pd.NA,
            "n_genes": len(mae),
            "mae": mae.mean(),
            "mae_sd": mae.std(),
            "pearson": r.mean() if len(r) else np.nan,
            "pearson_sd": r.std() if len(r) else np.nan,
            "pearson_median": np.median(r) if len(r) else np.nan,
        })
    df = pd.DataFrame(rows)
    for c in ("layers", "units", "dropout_pct"):
        df[c] = df[c].astype("Int64")
    return df


def is_dgex(methods) -> np.ndarray:
    """Boolean mask of the D-GEX methods among `methods`."""
    return np.array([parse_dgex(m) is not None for m in methods], dtype=bool)


def select_dgex(validation: dict[str, pd.DataFrame]) -> str:
    """The D-GEX method with the lowest overall validation error (the paper's model selection); first wins ties."""
    ov = overall(validation)
    ov = ov[is_dgex(ov["method"])]
    if ov.empty:
        raise InputError("no D-GEX evaluation among the inputs: nothing to select")
    return str(ov.loc[ov["mae"].idxmin(), "method"])


def share_lower(a: np.ndarray, b: np.ndarray) -> float:
    """Percent of genes on which error `a` is strictly lower than error `b`."""
    return 100.0 * float(np.mean(np.asarray(a) < np.asarray(b)))


def relative_improvement(dgex_mae: float, baseline_mae: float) -> float:
    """Relative improvement of D-GEX over a baseline in percent: (baseline - D-GEX) / baseline."""
    return 100.0 * (baseline_mae - dgex_mae) / baseline_mae


def summary(test: dict[str, pd.DataFrame], validation: dict[str, pd.DataFrame], dropout: float | None = None) -> pd.DataFrame:
    """Table 1/2: baselines and every D-GEX layers x units at the selected dropout; selection, best, improvement, share."""
    if set(test) != set(validation):
        raise InputError(f"test and validation evaluations cover different methods: {sorted(set(test) ^ set(validation))}")
    selected = select_dgex(validation)
    sel_arch = parse_dgex(selected)
    if dropout is None:
        pct = sel_arch.dropout
    else:
        pct = int(round(dropout * 100))
        grid = sorted({parse_dgex(m).dropout for m in test if parse_dgex(m)})
        if pct not in grid:
            raise InputError(f"tables.dropout={dropout} is not a dropout rate of the D-GEX grid (rates in percent: {grid})")
    t, v = overall(test), overall(validation).set_index("method")
    t["validation_mae"] = v.loc[t["method"], "mae"].to_numpy()
    t["validation_mae_sd"] = v.loc[t["method"], "mae_sd"].to_numpy()
    dg = is_dgex(t["method"])
    keep = ~dg | (t["dropout_pct"].fillna(-1).to_numpy(dtype=np.int64) == pct)
    t = t[keep].reset_index(drop=True)
    dg = is_dgex(t["method"])
    # the model chosen on validation among the rows shown (the overall choice when the dropout is not overridden)
    shown_sel = t.loc[dg, "validation_mae"].idxmin()
    t["selected"] = False
    t.loc[shown_sel, "selected"] = True
    t["best_test"] = False
    t.loc[t["mae"].idxmin(), "best_test"] = True
    sel = str(t.loc[shown_sel, "method"])
    sel_mae = test[sel]["mae"].to_numpy(np.float64)
    t["improvement_pct"] = [np.nan if d else relative_improvement(t.loc[shown_sel, "mae"], m) for d, m in zip(dg, t["mae"])]
    t["share_genes_dgex_lower_pct"] = [np.nan if d else share_lower(sel_mae, test[m]["mae"].to_numpy(np.float64))
                                       for d, m in zip(dg, t["method"])]
    return t


PAPER_QUANTITIES = ("mae", "improvement_pct", "share_genes_dgex_lower_pct")


def gene_set_size(gene_stats_path: str | Path) -> tuple[int, int]:
    """(landmarks, targets) of a run, from its standardized/geo_gene_stats.tsv (columns gene, role)."""
    try:
        role = pd.read_csv(gene_stats_path, sep="\t", usecols=["role"])["role"]
    except (OSError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputError(f"{gene_stats_path}: cannot read the gene roles (columns gene, role): {exc}") from exc
    return int((role == "landmark").sum()), int((role == "target").sum())


def with_paper_values(df: pd.DataFrame, split: str) -> pd.DataFrame:
    """Table 1/2 plus the paper's published values beside each row (paper_mae, ...; NaN where none is on record)."""
    out = df.copy()
    keys = [SELECTED_DGEX if sel else m for m, sel in zip(out["method"], out["selected"])]
    for q in PAPER_QUANTITIES:
        out[f"paper_{q}"] = np.array([paper_value(split, k, q) for k in keys], dtype=np.float64)
    return out


def improvement_with_paper_values(df: pd.DataFrame) -> pd.DataFrame:
    """The improvement table plus the paper's published values of each test split and baseline (NaN where none)."""
    out = df.copy()
    out["paper_dgex_mae"] = np.array([paper_value(s, SELECTED_DGEX, "mae") for s in out["split"]], dtype=np.float64)
    out["paper_baseline_mae"] = np.array([paper_value(s, b, "mae") for s, b in zip(out["split"], out["baseline"])],
                                         dtype=np.float64)
    for q in PAPER_QUANTITIES[1:]:
        out[f"paper_{q}"] = np.array([paper_value(s, b, q) for s, b in zip(out["split"], out["baseline"])], dtype=np.float64)
    return out


def dropout_table(per_gene: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Supplementary tables S2-S5: overall error of every method and every D-GEX architecture and dropout on one split."""
    t = overall(per_gene)
    t["best"] = False
    t.loc[t["mae"].idxmin(), "best"] = True
    dg = is_dgex(t["method"])
    t["best_dgex"] = False
    if dg.any():
        t.loc[t.loc[dg, "mae"].idxmin(), "best_dgex"] = True
    return t


def improvement_table(tests: dict[str, dict[str, pd.DataFrame]], validations: dict[str, dict[str, pd.DataFrame]]) -> pd.DataFrame:
    """Per test split and baseline: relative improvement of the selected D-GEX and the share of genes where it is lower."""
    rows = []
    for split, test in tests.items():
        selected = select_dgex(validations[split])
        d = test[selected]["mae"].to_numpy(np.float64)
        for method, t in test.items():
            if parse_dgex(method) is not None:
                continue
            b = t["mae"].to_numpy(np.float64)
            rows.append({
                "split": split,
                "dgex": selected,
                "dgex_label": method_label(selected),
                "baseline": method,
                "baseline_label": method_label(method),
                "n_genes": len(d),
                "dgex_mae": d.mean(),
                "baseline_mae": b.mean(),
                "improvement_pct": relative_improvement(d.mean(), b.mean()),
                "share_genes_dgex_lower_pct": share_lower(d, b),
            })
    cols = ["split", "dgex", "dgex_label", "baseline", "baseline_label", "n_genes", "dgex_mae", "baseline_mae",
            "improvement_pct", "share_genes_dgex_lower_pct"]
    return pd.DataFrame(rows, columns=cols)


def pearson_table(tests: dict[str, dict[str, pd.DataFrame]]) -> pd.DataFrame:
    """Per test split and method: overall MAE next to per-gene Pearson r (mean, sd and median over genes)."""
    frames = []
    for split, test in tests.items():
        o = overall(test)
        o.insert(0, "split", split)
        frames.append(o)
    return pd.concat(frames, ignore_index=True)


def overall_error_per_epoch(histories: dict[int, pd.DataFrame], sizes: dict[int, int], split: str) -> pd.DataFrame:
    """Overall error on `split` per epoch over all targets: the parts' errors weighted by their number of targets."""
    col = f"{split}_mae"
    if set(histories) != set(sizes):
        raise InputError(f"training histories cover parts {sorted(histories)} but the partition has parts {sorted(sizes)}")
    epochs = None
    total = None
    for part, h in sorted(histories.items()):
        if col not in h.columns or "epoch" not in h.columns:
            raise InputError(f"training history of part {part} lacks column 'epoch' or {col!r} (has {list(h.columns)})")
        e = h["epoch"].to_numpy()
        if epochs is None:
            epochs = e
            total = np.zeros(len(e), dtype=np.float64)
        elif not np.array_equal(e, epochs):
            raise InputError(f"training history of part {part} has epochs {e.min()}..{e.max()} ({len(e)}), "
                             f"other parts {epochs.min()}..{epochs.max()} ({len(epochs)}): the parts must be trained alike")
        total += sizes[part] * h[col].to_numpy(np.float64)
    return pd.DataFrame({"epoch": epochs, "mae": total / sum(sizes.values())})


# --------------------------------------------------------------------------- rendering
@dataclass
class Block:
    """One rendered table: a heading, a frame of display strings, and which cells to emphasize."""

    heading: str
    frame: pd.DataFrame
    bold: set = field(default_factory=set)  # (row position, column name)


@dataclass
class Document:
    """A titled group of tables with explanatory notes, rendered to Markdown or HTML."""

    title: str
    notes: list[str]
    blocks: list[Block]


def fmt(x, decimals: int) -> str:
    """A number with a fixed number of decimals ('' for missing)."""
    return "" if x is None or pd.isna(x) else f"{float(x):.{decimals}f}"


def fmt_pm(mean, sd, decimals: int) -> str:
    """mean +- sd with a fixed number of decimals."""
    return "" if pd.isna(mean) else f"{fmt(mean, decimals)} ± {fmt(sd, decimals)}"


def fmt_pct(x, decimals: int) -> str:
    """A percentage with a fixed number of decimals."""
    return "" if x is None or pd.isna(x) else f"{float(x):.{decimals}f}%"


def _md_cell(s: str) -> str:
    return str(s).replace("|", "\\|")


def to_markdown(doc: Document) -> str:
    """The document as GitHub-flavoured Markdown (bold cells in **)."""
    out = [f"# {doc.title}", ""] + [n for note in doc.notes for n in (note, "")]
    for b in doc.blocks:
        if b.heading:
            out += [f"## {b.heading}", ""]
        cols = list(b.frame.columns)
        out.append("| " + " | ".join(_md_cell(c) for c in cols) + " |")
        out.append("|" + "|".join("---" for _ in cols) + "|")
        for i, row in enumerate(b.frame.itertuples(index=False)):
            cells = [f"**{_md_cell(v)}**" if (i, c) in b.bold and v != "" else _md_cell(v) for c, v in zip(cols, row)]
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


HTML_STYLE = """body{font-family:sans-serif;font-size:14px;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:0.5em 0 1.5em}th,td{padding:3px 10px;border-bottom:1px solid #ddd;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}p{max-width:60em}"""


def to_html(doc: Document) -> str:
    """The document as a standalone HTML page (bold cells in <strong>)."""
    e = html.escape
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">', f"<title>{e(doc.title)}</title>",
           f"<style>{HTML_STYLE}</style></head><body>", f"<h1>{e(doc.title)}</h1>"]
    out += [f"<p>{e(n)}</p>" for n in doc.notes]
    for b in doc.blocks:
        if b.heading:
            out.append(f"<h2>{e(b.heading)}</h2>")
        cols = list(b.frame.columns)
        out.append("<table><thead><tr>" + "".join(f"<th>{e(str(c))}</th>" for c in cols) + "</tr></thead><tbody>")
        for i, row in enumerate(b.frame.itertuples(index=False)):
            cells = [f"<strong>{e(str(v))}</strong>" if (i, c) in b.bold else e(str(v)) for c, v in zip(cols, row)]
            out.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
        out.append("</tbody></table>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


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
    dg = is_dgex(df["method"])
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
    base = df[~is_dgex(df["method"])].reset_index(drop=True)
    if len(base):
        frame = pd.DataFrame({"method": base["label"], "MAE": [fmt_pm(m, s, decimals) for m, s in zip(base["mae"], base["mae_sd"])]})
        bold = {(i, "MAE") for i in np.flatnonzero(base["best"].to_numpy())}
        blocks.append(Block("Baselines", frame, bold))
    d = df[is_dgex(df["method"])]
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


def write_table(output, df: pd.DataFrame, doc, log) -> str:
    """Write a table rule's outputs (TSV of `df`, Markdown and HTML of `doc`) and log the Markdown."""
    md = to_markdown(doc)
    write_tsv(output.tsv, df, float_format="%.8g")
    write_text(output.md, md)
    write_text(output.html, to_html(doc))
    log.info("\n%s", md)
    return md
