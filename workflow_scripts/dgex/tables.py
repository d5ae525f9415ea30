"""The paper's summary tables: overall error per method (mean +- sd of per-gene MAE), selection and improvement."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def method_label(method: str) -> str:
    """Display name: lr -> LR, dgex_h1x3000_d10 -> D-GEX-10% 1x3000."""
    if method.startswith("dgex_"):
        arch = method[5:]
        layers_units, d = arch[1:].split("_d")
        return f"D-GEX-{int(d)}% {layers_units}"
    return {"lr": "LR", "lr_l1": "LR-L1", "lr_l2": "LR-L2", "knn": "KNN-GE"}.get(method, method)


def load_per_gene(paths: list[str]) -> dict[str, pd.DataFrame]:
    """method -> per-gene table, from evaluation/<method>/<split>.tsv paths."""
    return {Path(p).parent.name: pd.read_csv(p, sep="\t") for p in paths}


def summary(test: dict[str, pd.DataFrame], validation: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per method: test and validation error (mean, sd over genes), Pearson r, selected and best D-GEX."""
    rows = []
    for method, t in test.items():
        v = validation[method]
        rows.append({
            "method": method,
            "label": method_label(method),
            "test_mae": t["mae"].mean(),
            "test_mae_sd": t["mae"].std(ddof=0),
            "validation_mae": v["mae"].mean(),
            "validation_mae_sd": v["mae"].std(ddof=0),
            "test_pearson": t["pearson"].mean(),
        })
    df = pd.DataFrame(rows)
    dgex = df["method"].str.startswith("dgex_")
    df["selected"] = False
    df["best_test"] = False
    if dgex.any():
        df.loc[df.loc[dgex, "validation_mae"].idxmin(), "selected"] = True
        df.loc[df.loc[dgex, "test_mae"].idxmin(), "best_test"] = True
        sel = df.loc[df["selected"], "method"].iloc[0]
        sel_mae = test[sel]["mae"].to_numpy()
        df["selected_dgex_improvement_pct"] = 100.0 * (df["test_mae"] - df.loc[df["selected"], "test_mae"].iloc[0]) / df["test_mae"]
        df["share_genes_dgex_lower_pct"] = [
            100.0 * float(np.mean(sel_mae < test[m]["mae"].to_numpy())) if m != sel else np.nan for m in df["method"]
        ]
    return df


def to_markdown(df: pd.DataFrame, split: str, decimals: int) -> str:
    """The table as Markdown, with the selected (by validation) and best (on test) D-GEX marked."""
    f = f"{{:.{decimals}f}}"
    lines = [f"# Overall error on {split}", "",
             "Mean over target genes of the per-gene mean absolute error (standardized units) +- its standard deviation over genes.",
             "`*` selected on validation, `+` lowest test error.", "",
             "| method | test MAE | validation MAE | mean Pearson r | D-GEX improvement | genes where D-GEX is lower |",
             "|---|---|---|---|---|---|"]
    for _, r in df.iterrows():
        mark = ("*" if r.get("selected") else "") + ("+" if r.get("best_test") else "")
        imp = r.get("selected_dgex_improvement_pct", np.nan)
        share = r.get("share_genes_dgex_lower_pct", np.nan)
        lines.append(f"| {r['label']}{mark} | {f.format(r['test_mae'])} +- {f.format(r['test_mae_sd'])} | "
                     f"{f.format(r['validation_mae'])} +- {f.format(r['validation_mae_sd'])} | {f.format(r['test_pearson'])} | "
                     f"{'' if np.isnan(imp) else f'{imp:.2f}%'} | {'' if np.isnan(share) else f'{share:.2f}%'} |")
    return "\n".join(lines) + "\n"
