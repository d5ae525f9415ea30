"""GEO train/validation/test splits and target-gene partitions."""
from __future__ import annotations

import numpy as np
import pandas as pd

SPLITS = ("geo_tr", "geo_va", "geo_te")
PARTITION_METHODS = ("random", "all", "cluster")


def assign_splits(samples: list[str], fractions: dict, seed: int) -> pd.DataFrame:
    """Seeded shuffle, then GEO-tr/va/te by the configured fractions (111,009 profiles -> 88,807/11,101/11,101)."""
    va, te = float(fractions["geo_va"]), float(fractions["geo_te"])
    if not (0 < va < 1 and 0 < te < 1 and va + te < 1):
        raise ValueError(f"splits: geo_va={va} and geo_te={te} must be in (0, 1) with a sum below 1")
    n = len(samples)
    n_va, n_te = int(round(n * va)), int(round(n * te))
    n_tr = n - n_va - n_te
    if min(n_tr, n_va, n_te) < 1:
        raise ValueError(f"splits: {n} profiles are too few for fractions {fractions}")
    order = np.random.default_rng(seed).permutation(n)
    split = np.empty(n, dtype=object)
    split[order[:n_tr]] = "geo_tr"
    split[order[n_tr : n_tr + n_va]] = "geo_va"
    split[order[n_tr + n_va :]] = "geo_te"
    # rows follow the shuffled order, so each split's profiles keep the shuffle order
    return pd.DataFrame({"sample": [samples[i] for i in order], "split": split[order]})


def partition_targets(targets: list[str], method: str, n_parts: int, seed: int, Y_train: np.ndarray | None = None) -> pd.DataFrame:
    """Assign every target gene to exactly one part: 'random' (seeded equal parts, the paper's halves), 'all', or 'cluster'."""
    if method not in PARTITION_METHODS:
        raise ValueError(f"partitions.method must be one of {PARTITION_METHODS}, got {method!r}")
    n = len(targets)
    if method == "all":
        n_parts = 1
    if not 1 <= n_parts <= n:
        raise ValueError(f"partitions.n_parts must be between 1 and the number of targets ({n}), got {n_parts}")
    rng = np.random.default_rng(seed)
    if method in ("random", "all"):
        perm = rng.permutation(n)
        part = np.empty(n, dtype=np.int64)
        for p, chunk in enumerate(np.array_split(perm, n_parts)):
            part[chunk] = p
    else:
        if Y_train is None:
            raise ValueError("partitions.method 'cluster' needs the training targets")
        from sklearn.cluster import KMeans

        part = KMeans(n_clusters=n_parts, random_state=seed, n_init=4).fit_predict(Y_train.T.astype(np.float64))
        sizes = np.bincount(part, minlength=n_parts)
        if (sizes == 0).any():
            raise ValueError(f"partitions: clustering left an empty part (sizes {sizes.tolist()})")
    return pd.DataFrame({"gene": targets, "part": part})


def check_partition(df: pd.DataFrame, targets: list[str]) -> None:
    """Every target in exactly one part, and nothing else."""
    counts = df["gene"].value_counts()
    twice = counts[counts > 1].index.tolist()
    missing = sorted(set(targets) - set(df["gene"]))
    extra = sorted(set(df["gene"]) - set(targets))
    if twice or missing or extra:
        raise ValueError(f"target partition is not a partition: {len(missing)} left out (e.g. {missing[:3]}), "
                         f"{len(twice)} counted twice (e.g. {twice[:3]}), {len(extra)} unknown (e.g. {extra[:3]})")
