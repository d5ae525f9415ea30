"""Joint quantile normalization onto a GEO reference distribution, and per-gene standardization."""
from __future__ import annotations

import numpy as np

TIES = ("average", "original")
STD_EPS = 1e-3  # the original code's std + 1e-3


def quantile_reference(values: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """Reference distribution: the mean over profiles (rows) of each profile's sorted values, in float64."""
    acc = np.zeros(values.shape[1], dtype=np.float64)
    for s in range(0, len(values), chunk):
        acc += np.sort(values[s : s + chunk], axis=1).sum(axis=0, dtype=np.float64)
    return acc / len(values)


def map_to_reference(values: np.ndarray, reference: np.ndarray, ties: str = "average", chunk: int = 2048) -> np.ndarray:
    """Replace every profile's values by the reference values at their ranks.

    ties='average': tied values all get the mean of the reference over the ranks they span.
    ties='original': the D-GEX code's rule: rank r among the profile's u distinct values maps to
    reference[int((r + 1) / u * n) - 1], which stretches distinct values over the whole reference.
    """
    if ties not in TIES:
        raise ValueError(f"quantile_normalization.ties must be one of {TIES}, got {ties!r}")
    n = values.shape[1]
    if len(reference) != n:
        raise ValueError(f"reference has {len(reference)} values but profiles have {n} genes")
    ref = np.asarray(reference, dtype=np.float64)
    cum = np.concatenate([[0.0], np.cumsum(ref)])
    out = np.empty(values.shape, dtype=np.float32)
    for s in range(0, len(values), chunk):
        block = values[s : s + chunk]
        order = np.argsort(block, axis=1, kind="stable")
        srt = np.take_along_axis(block, order, axis=1)
        new_run = np.ones(srt.shape, dtype=bool)
        new_run[:, 1:] = srt[:, 1:] != srt[:, :-1]
        run_id = np.cumsum(new_run, axis=1) - 1  # dense rank of each sorted value
        res = np.empty(srt.shape, dtype=np.float64)
        for r in range(len(block)):
            starts = np.flatnonzero(new_run[r])
            ends = np.append(starts[1:], n)
            if ties == "average":
                run_val = (cum[ends] - cum[starts]) / (ends - starts)
            else:
                u = len(starts)
                pos = ((np.arange(u) + 1.0) / u * n).astype(np.int64) - 1
                run_val = ref[pos]
            res[r] = run_val[run_id[r]]
        np.put_along_axis(out[s : s + chunk], order, res.astype(np.float32), axis=1)
    return out


def gene_stats(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-gene mean and standard deviation + 1e-3 (float64), as the original code."""
    mean = values.mean(axis=0, dtype=np.float64)
    var = np.zeros(values.shape[1], dtype=np.float64)
    for s in range(0, len(values), 8192):
        var += ((values[s : s + 8192] - mean) ** 2).sum(axis=0)
    return mean, np.sqrt(var / len(values)) + STD_EPS


def standardize(values: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """(values - mean) / std per gene, float32."""
    return ((values - mean) / std).astype(np.float32)
