"""Per-target reliability: each target's held-out accuracy (per-gene MAE and Pearson r on GEO-te, and on GTEx-te with
RNA-Seq), the rule that flags a target well inferred, the row metadata dgex-infer writes from them, and the report's counts.

Field names: `test_mae`, `test_r` (GEO-te), `gtex_mae`, `gtex_r` (GTEx-te); dgex-infer writes them as `dgex_<field>`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from .evaluate import per_gene_table
from .gctx import CMAP_NULL
from .io import InputError
from .layout import split_label
from .selection import method_label

# test split -> prefix of its reliability fields; field suffix -> column of the per-gene evaluation tables
FIELD_PREFIX = {"geo_te": "test", "gtex_te": "gtex"}
METRIC_COLUMN = {"mae": "mae", "r": "pearson"}
SPLIT_OF_PREFIX = {v: k for k, v in FIELD_PREFIX.items()}
RULE_METRICS = tuple(f"{p}_{m}" for p in FIELD_PREFIX.values() for m in METRIC_COLUMN)
WELL_INFERRED = "dgex_well_inferred"


def reliability_fields(splits: Sequence[str]) -> list[str]:
    """The reliability fields of the given test splits, e.g. ['test_mae', 'test_r']."""
    return [f"{FIELD_PREFIX[s]}_{m}" for s in FIELD_PREFIX if s in splits for m in METRIC_COLUMN]


@dataclass(frozen=True)
class WellInferredRule:
    """When a target counts as well inferred: its Pearson r at least, or its MAE at most, `threshold` on a test split."""

    metric: str = "test_r"
    threshold: float = 0.5

    def __post_init__(self):
        if self.metric not in RULE_METRICS:
            raise ValueError(f"inference.well_inferred.metric must be one of {list(RULE_METRICS)}, got {self.metric!r}")
        t = self.threshold
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not np.isfinite(t):
            raise ValueError(f"inference.well_inferred.threshold must be a finite number, got {t!r}")
        if self.higher_is_better and not -1 <= t <= 1:
            raise ValueError(f"inference.well_inferred.threshold: a Pearson r threshold lies in [-1, 1], got {t}")
        if not self.higher_is_better and t < 0:
            raise ValueError(f"inference.well_inferred.threshold: an MAE threshold is >= 0, got {t}")

    @classmethod
    def from_config(cls, setting: Mapping) -> "WellInferredRule":
        """The rule of a config mapping {metric, threshold} (inference.well_inferred)."""
        return cls(str(setting["metric"]), float(setting["threshold"]))

    @property
    def higher_is_better(self) -> bool:
        return self.metric.endswith("_r")

    @property
    def split(self) -> str:
        return SPLIT_OF_PREFIX[self.metric.split("_")[0]]

    def describe(self) -> str:
        """The rule in words, as the output's metadata and the report state it."""
        op, what = (">=", "Pearson r") if self.higher_is_better else ("<=", "per-gene MAE (standardized units)")
        return (f"dgex_{self.metric} {op} {self.threshold:g}: {what} of the inferred against the measured expression "
                f"on {split_label(self.split)} (held-out profiles) {'at least' if self.higher_is_better else 'at most'} "
                f"{self.threshold:g}")

    def passes(self, values: np.ndarray) -> np.ndarray:
        """Boolean flags of the targets whose `metric` values pass (an undefined value never does)."""
        v = np.asarray(values, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            ok = v >= self.threshold if self.higher_is_better else v <= self.threshold
        return ok & np.isfinite(v)


def reliability_table(per_gene: Mapping[str, pd.DataFrame], genes: Sequence[str], what: str) -> pd.DataFrame:
    """gene and the reliability fields of `genes` (in that order), from per-gene evaluation tables keyed by test split."""
    out = pd.DataFrame({"gene": list(genes)})
    for split in (s for s in FIELD_PREFIX if s in per_gene):
        t = per_gene[split].set_index("gene")
        absent = [g for g in genes if g not in t.index]
        if absent:
            raise InputError(f"{what}: the per-gene evaluation on {split} lacks {len(absent)} target(s) of the bundle, "
                             f"e.g. {absent[:5]}")
        for suffix, col in METRIC_COLUMN.items():
            out[f"{FIELD_PREFIX[split]}_{suffix}"] = t.loc[list(genes), col].to_numpy(np.float64)
    return out


def predicted_per_gene(models: Mapping[int, str | os.PathLike], partition: pd.DataFrame, split_file: str | os.PathLike
                       ) -> pd.DataFrame:
    """Per-gene MAE and Pearson r of the networks of every part (one per part of `partition`) on a split file."""
    from .artifacts import part_genes
    from .matrix import load_matrix
    from .network import load_model, predict

    m = load_matrix(split_file)
    col = {g: i for i, g in enumerate(m.targets)}
    pred = np.full(m.Y.shape, np.nan, dtype=np.float32)
    for p, f in sorted(models.items()):
        pred[:, [col[g] for g in part_genes(partition, p)]] = predict(load_model(f), m.X)
    if np.isnan(pred).any():
        raise InputError(f"{split_file}: the partition's parts do not cover every target of the split")
    return per_gene_table(m.targets, m.Y, pred)


def reliability_meta(table: pd.DataFrame, rule: WellInferredRule, target_rows: np.ndarray, n_rows: int) -> pd.DataFrame:
    """Row metadata dgex_<field> and dgex_well_inferred (1/0) of n_rows output rows, the table's targets at `target_rows`:
    -666 on the other (measured) rows and for an undefined r."""
    if rule.metric not in table.columns:
        have = [c for c in table.columns if c != "gene"]
        raise InputError(f"the well-inferred rule uses {rule.metric}, but the bundle records only {have} "
                         "(GTEx-te fields need a run with RNA-Seq data)")
    meta = {}
    for c in (c for c in table.columns if c != "gene"):
        v = table[c].to_numpy(np.float64)
        meta[f"dgex_{c}"] = np.full(n_rows, float(CMAP_NULL))
        meta[f"dgex_{c}"][target_rows] = np.where(np.isfinite(v), v, float(CMAP_NULL))
    meta[WELL_INFERRED] = np.full(n_rows, CMAP_NULL, np.int64)
    meta[WELL_INFERRED][target_rows] = rule.passes(table[rule.metric].to_numpy()).astype(np.int64)
    return pd.DataFrame(meta)


# --------------------------------------------------------------------------- the report's table, figure and TSV
def per_target_reliability(tests: Mapping[str, Mapping[str, pd.DataFrame]], rule: WellInferredRule) -> pd.DataFrame:
    """method, gene, the reliability fields and well_inferred (0/1) of every target of every method, from per-gene
    evaluations keyed by test split, then method (dgex.selection.load_per_gene)."""
    if rule.split not in tests:
        raise InputError(f"inference.well_inferred.metric={rule.metric!r} needs {split_label(rule.split)} evaluations, "
                         f"but the run has {[split_label(s) for s in tests]}")
    frames = []
    for method, first in tests[rule.split].items():
        t = reliability_table({s: tests[s][method] for s in tests}, first["gene"].tolist(), f"method {method}")
        t.insert(0, "method", method)
        t["well_inferred"] = rule.passes(t[rule.metric].to_numpy()).astype(np.int64)
        frames.append(t)
    return pd.concat(frames, ignore_index=True)


def well_inferred_counts(per_target: pd.DataFrame) -> pd.DataFrame:
    """Per method (in input order): targets, how many are well inferred, their share (%), median Pearson r per test split."""
    rows = []
    for method, t in per_target.groupby("method", sort=False):
        row = {"method": method, "label": method_label(method), "n_targets": len(t),
               "n_well_inferred": int(t["well_inferred"].sum()), "share_pct": 100.0 * t["well_inferred"].mean()}
        for c in (c for c in t.columns if c.endswith("_r")):
            row[f"median_{c}"] = float(np.nanmedian(t[c].to_numpy(np.float64))) if t[c].notna().any() else np.nan
        rows.append(row)
    return pd.DataFrame(rows)
