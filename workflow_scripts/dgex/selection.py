"""Per-gene evaluations of every method, their overall errors, method display names, and the paper's model selection."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from .architecture import Architecture
from .artifacts import read_per_gene, read_solution
from .io import InputError

BASELINE_LABELS = {"lr": "LR", "lr_l1": "LR-L1", "lr_l2": "LR-L2", "knn": "KNN-GE"}
MIN_NORM_MARK = " (min-norm)"


def method_label(method: str) -> str:
    """Display name: lr -> LR, knn -> KNN-GE, dgex_h1x3000_d10 -> D-GEX-10% 1x3000."""
    arch = Architecture.from_method(method)
    if arch is not None:
        return f"D-GEX-{arch.dropout_pct}% {arch.shape}"
    return BASELINE_LABELS.get(method, method)


def mark_solutions(df: pd.DataFrame, solutions: list[str]) -> tuple[pd.DataFrame, list[str]]:
    """Labels of baselines solved as a minimum-norm fit (models/<method>/solution.json) marked, and the notes saying why.

    Marks the `label` of rows whose `method` matches, and the `baseline_label` of rows whose `baseline` does.
    """
    notes, marked = [], []
    for path in solutions:
        method, min_norm, reason = read_solution(path)
        if min_norm:
            marked.append(method)
            notes.append(f"{method_label(method)}{MIN_NORM_MARK}: {reason}.")
    df = df.copy()
    for method_col, label_col in (("method", "label"), ("baseline", "baseline_label")):
        if method_col in df and label_col in df:
            hit = df[method_col].isin(marked)
            df.loc[hit, label_col] = df.loc[hit, label_col] + MIN_NORM_MARK
    return df, notes


def load_per_gene(paths: list[str | os.PathLike]) -> dict[str, pd.DataFrame]:
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


def overall(per_gene: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per method: overall error (mean of per-gene MAE) +- sd over genes, and per-gene Pearson r summaries."""
    rows = []
    for method, t in per_gene.items():
        arch = Architecture.from_method(method)
        mae = t["mae"].to_numpy(np.float64)
        r = t["pearson"].to_numpy(np.float64)
        r = r[np.isfinite(r)]
        rows.append({
            "method": method,
            "label": method_label(method),
            "layers": arch.layers if arch else pd.NA,
            "units": arch.units if arch else pd.NA,
            "dropout_pct": arch.dropout_pct if arch else pd.NA,
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


def dgex_mask(methods) -> np.ndarray:
    """Boolean mask of the D-GEX methods among `methods`."""
    return np.array([Architecture.from_method(m) is not None for m in methods], dtype=bool)


def select_dgex(validation: dict[str, pd.DataFrame]) -> str:
    """The D-GEX method with the lowest overall validation error (the paper's model selection); first wins ties."""
    ov = overall(validation)
    ov = ov[dgex_mask(ov["method"])]
    if ov.empty:
        raise InputError("no D-GEX evaluation among the inputs: nothing to select")
    return str(ov.loc[ov["mae"].idxmin(), "method"])
