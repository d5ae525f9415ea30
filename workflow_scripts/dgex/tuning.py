"""Choosing a baseline's hyper-parameter (LR-L1/LR-L2 lambda, KNN-GE k) on each validation split, and the record of it."""
from __future__ import annotations

import logging
from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from .baselines import LOG, LinearModel, check_grid, check_same_genes, landmarks_and_targets
from .knn import knn_predictions


def mean_mae(Y: np.ndarray, Y_hat: np.ndarray) -> float:
    """The paper's overall error: per-gene MAE averaged over target genes (float64)."""
    if Y.shape != Y_hat.shape:
        raise ValueError(f"shapes differ: truth {Y.shape} vs prediction {Y_hat.shape}")
    total = 0.0
    for s in range(0, len(Y), 4096):
        total += float(np.abs(Y[s : s + 4096] - Y_hat[s : s + 4096]).sum(dtype=np.float64))
    return total / Y.size


def select_linear(
    path: Iterable[tuple[float, LinearModel, dict]], validation: Mapping[str, tuple[np.ndarray, np.ndarray]]
) -> tuple[pd.DataFrame, dict[str, tuple[float, LinearModel]]]:
    """Validation curve (lambda, mean per-gene MAE on each validation split, fit details) and each split's best model."""
    rows, best = [], {}
    for lam, model, info in path:
        row = {"lambda": lam}
        for split, (X, Y) in validation.items():
            row[f"{split}_mae"] = mae = mean_mae(Y, model.predict(X))
            if split not in best or mae < best[split][0]:
                best[split] = (mae, lam, model)
        rows.append(row | info)
    curve = pd.DataFrame(rows).sort_values("lambda", ignore_index=True)
    return curve, {s: (lam, model) for s, (_, lam, model) in best.items()}


def select_knn(
    neighbors: np.ndarray, ks: Sequence[int], validation: Mapping[str, tuple[np.ndarray, np.ndarray]]
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Validation curve (k, mean per-gene MAE on each validation split) and each split's best k (the smaller on ties)."""
    ks = check_grid(ks, "baselines.knn_k", integer=True, upper=neighbors.shape[1])
    curve = pd.DataFrame({"k": ks})
    for split, (X, Y) in validation.items():
        curve[f"{split}_mae"] = [mean_mae(Y, pred) for _, pred in knn_predictions(X, neighbors, ks)]
    return curve, {s: int(curve["k"].iloc[int(np.argmin(curve[f"{s}_mae"].to_numpy()))]) for s in validation}




def selection_record(method: str, hyperparameter: str, curve: pd.DataFrame, chosen: Mapping[str, float],
                     selection: Mapping[str, str], log: logging.Logger | None = None) -> dict:
    """What was chosen on which validation split, its error, and which evaluation splits use it (warns at a grid edge)."""
    log = log or LOG
    grid = curve[hyperparameter].tolist()
    record = {"method": method, "hyperparameter": hyperparameter, "chosen": {}, "validation_mae": {}, "used_for": dict(selection)}
    for split, value in chosen.items():
        value = value.item() if isinstance(value, np.generic) else value
        record["chosen"][split] = value
        record["validation_mae"][split] = float(curve.loc[curve[hyperparameter] == value, f"{split}_mae"].iloc[0])
        if len(grid) > 1 and value in (grid[0], grid[-1]):
            log.warning("%s: %s=%s chosen on %s is at the edge of the grid %s; consider extending the grid",
                        method, hyperparameter, value, split, grid)
    return record


def load_selection_splits(train, paths, selection: dict) -> tuple[dict, dict]:
    """The evaluation splits of a tuned baseline (checked against the training genes) and its validation (X, Y) pairs."""
    from .matrix import load_matrix

    splits = {s: load_matrix(paths[s]) for s in selection}
    for s, m in splits.items():
        check_same_genes(train, m, paths[s])
    validation = {s: landmarks_and_targets(splits[s]) for s in dict.fromkeys(selection.values())}
    return splits, validation
