"""The numbers behind the paper's tables: Tables 1/2 (summary), S2-S5 (every dropout), improvement, Pearson, per epoch."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .architecture import Architecture
from .io import InputError
from .paper_values import SELECTED_DGEX, paper_value
from .selection import dgex_mask, method_label, overall, select_dgex


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
    if dropout is None:
        pct = Architecture.from_method(selected).dropout_pct
    else:
        pct = int(round(dropout * 100))
        grid = sorted({a.dropout_pct for a in map(Architecture.from_method, test) if a})
        if pct not in grid:
            raise InputError(f"tables.dropout={dropout} is not a dropout rate of the D-GEX grid (rates in percent: {grid})")
    t, v = overall(test), overall(validation).set_index("method")
    t["validation_mae"] = v.loc[t["method"], "mae"].to_numpy()
    t["validation_mae_sd"] = v.loc[t["method"], "mae_sd"].to_numpy()
    dg = dgex_mask(t["method"])
    keep = ~dg | (t["dropout_pct"].fillna(-1).to_numpy(dtype=np.int64) == pct)
    t = t[keep].reset_index(drop=True)
    dg = dgex_mask(t["method"])
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
    dg = dgex_mask(t["method"])
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
            if Architecture.from_method(method) is not None:
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
