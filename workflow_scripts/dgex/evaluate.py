"""The paper's metric (per-gene mean absolute error) and per-gene Pearson correlation."""
from __future__ import annotations

import numpy as np
import pandas as pd


def per_gene_mae(Y: np.ndarray, Y_hat: np.ndarray) -> np.ndarray:
    """Mean absolute error of each target gene (column) over profiles, float64."""
    if Y.shape != Y_hat.shape:
        raise ValueError(f"shapes differ: truth {Y.shape} vs prediction {Y_hat.shape}")
    return np.abs(Y.astype(np.float64) - Y_hat).mean(axis=0)


def per_gene_pearson(Y: np.ndarray, Y_hat: np.ndarray) -> np.ndarray:
    """Pearson correlation of each target gene between truth and prediction (NaN for a constant column)."""
    a = Y.astype(np.float64) - Y.mean(axis=0, dtype=np.float64)
    b = Y_hat.astype(np.float64) - Y_hat.mean(axis=0, dtype=np.float64)
    den = np.sqrt((a * a).sum(0) * (b * b).sum(0))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (a * b).sum(0) / den, np.nan)


def per_gene_table(genes: list[str], Y: np.ndarray, Y_hat: np.ndarray) -> pd.DataFrame:
    """One row per target gene: MAE and Pearson r."""
    return pd.DataFrame({"gene": genes, "mae": per_gene_mae(Y, Y_hat), "pearson": per_gene_pearson(Y, Y_hat)})
