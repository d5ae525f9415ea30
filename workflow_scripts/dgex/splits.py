"""GEO train/validation/test splits and target-gene partitions."""
from __future__ import annotations

import numpy as np
import pandas as pd

PARTITION_METHODS = ("random", "all", "cluster")


MIN_TRAIN = 2  # standardization, the baselines and D-GEX need at least two training profiles


def split_sizes(n: int, fractions: dict, what: str = "the deduplicated compendium") -> tuple[int, int, int]:
    """(GEO-tr, GEO-va, GEO-te) sizes of n profiles; ValueError naming the setting to change if a split would be too small.

    `what` names the profiles counted (the check also runs before deduplication, on the compendium's header).
    """
    va, te = float(fractions["geo_va"]), float(fractions["geo_te"])
    if not (0 < va < 1 and 0 < te < 1 and va + te < 1):
        raise ValueError(f"splits: geo_va={va} and geo_te={te} must be in (0, 1) with a sum below 1")
    n_va, n_te = int(round(n * va)), int(round(n * te))
    n_tr = n - n_va - n_te
    for name, label, frac, size in (("geo_va", "GEO-va", va, n_va), ("geo_te", "GEO-te", te, n_te)):
        if size < 1:
            raise ValueError(f"splits.{name}={frac:g}: {what} has {n} profiles, so {label} would be empty "
                             f"(round({n} x {frac:g}) = 0); raise splits.{name} to at least {1 / max(n, 1):.3g} or use a "
                             "compendium with more profiles")
    if n_tr < MIN_TRAIN:
        raise ValueError(f"splits.geo_va={va:g} and splits.geo_te={te:g} leave {n_tr} of the {n} profiles of {what} for "
                         f"GEO-tr; training needs at least {MIN_TRAIN}: lower them or use a compendium with more profiles")
    return n_tr, n_va, n_te


def assign_splits(samples: list[str], fractions: dict, seed: int) -> pd.DataFrame:
    """Seeded shuffle, then GEO-tr/va/te by the configured fractions (111,009 profiles -> 88,807/11,101/11,101)."""
    n = len(samples)
    n_tr, n_va, n_te = split_sizes(n, fractions)
    order = np.random.default_rng(seed).permutation(n)
    split = np.empty(n, dtype=object)
    split[order[:n_tr]] = "geo_tr"
    split[order[n_tr : n_tr + n_va]] = "geo_va"
    split[order[n_tr + n_va :]] = "geo_te"
    # rows follow the shuffled order, so each split's profiles keep the shuffle order
    return pd.DataFrame({"sample": [samples[i] for i in order], "split": split[order]})


def partition_targets(targets: list[str], method: str, n_parts: int, seed: int, Y_train: np.ndarray | None = None,
                      cluster_profiles: int = 5000, balanced: bool = True) -> pd.DataFrame:
    """Assign every target gene to exactly one part: 'random' (seeded equal parts, the paper's halves), 'all', or 'cluster'."""
    if method not in PARTITION_METHODS:
        raise ValueError(f"partitions.method must be one of {PARTITION_METHODS}, got {method!r}")
    n = len(targets)
    if method == "all":
        n_parts = 1
    if not 1 <= n_parts <= n:
        raise ValueError(f"partitions.n_parts must be between 1 and the number of targets ({n}), got {n_parts}")
    if method in ("random", "all"):
        perm = np.random.default_rng(seed).permutation(n)
        part = np.empty(n, dtype=np.int64)
        for p, chunk in enumerate(np.array_split(perm, n_parts)):
            part[chunk] = p
    else:
        if Y_train is None or Y_train.ndim != 2 or Y_train.shape[1] != n:
            raise ValueError(f"partitions.method 'cluster' needs the training targets (profiles x {n} targets)")
        part = cluster_targets(Y_train, n_parts, seed, cluster_profiles, balanced)
    return pd.DataFrame({"gene": targets, "part": part})


def cluster_targets(Y_train: np.ndarray, n_parts: int, seed: int, n_profiles: int = 5000, balanced: bool = True) -> np.ndarray:
    """k-means of the targets on their (standardized) training expression over a seeded profile subset; part per target."""
    from sklearn.cluster import KMeans

    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(len(Y_train), min(n_profiles, len(Y_train)), replace=False))
    points = np.ascontiguousarray(Y_train[rows].T, dtype=np.float32)  # targets x profiles
    km = KMeans(n_clusters=n_parts, random_state=seed, n_init=4).fit(points)
    if not balanced:
        part = km.labels_.astype(np.int64)
        sizes = np.bincount(part, minlength=n_parts)
        if (sizes == 0).any():
            raise ValueError(f"partitions: clustering left an empty part (sizes {sizes.tolist()})")
        return part
    # equal sizes: walk (target, centroid) pairs from nearest to farthest, assigning while the centroid has room
    d = km.transform(points).astype(np.float64)
    capacity = np.full(n_parts, len(points) // n_parts) + (np.arange(n_parts) < len(points) % n_parts)
    part = np.full(len(points), -1, dtype=np.int64)
    left = len(points)
    for flat in np.argsort(d, axis=None, kind="stable"):
        t, c = divmod(int(flat), n_parts)
        if part[t] < 0 and capacity[c] > 0:
            part[t] = c
            capacity[c] -= 1
            left -= 1
            if not left:
                break
    return part


def check_partition(df: pd.DataFrame, targets: list[str], n_parts: int | None = None) -> None:
    """Every target in exactly one part, nothing else, and parts numbered 0..n-1 with none empty."""
    if not {"gene", "part"} <= set(df.columns):
        raise ValueError(f"target partition needs columns gene and part, has {list(df.columns)}")
    counts = df["gene"].value_counts()
    twice = counts[counts > 1].index.tolist()
    missing = sorted(set(targets) - set(df["gene"]))
    extra = sorted(set(df["gene"]) - set(targets))
    if twice or missing or extra:
        raise ValueError(f"target partition is not a partition: {len(missing)} left out (e.g. {missing[:3]}), "
                         f"{len(twice)} counted twice (e.g. {twice[:3]}), {len(extra)} unknown (e.g. {extra[:3]})")
    parts = sorted(pd.unique(df["part"]).tolist())
    expected = list(range(n_parts if n_parts is not None else len(parts)))
    if parts != expected:
        raise ValueError(f"target partition: parts are {parts[:10]}, expected {expected[:10]} (every part non-empty)")
