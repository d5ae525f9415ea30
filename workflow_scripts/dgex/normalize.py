"""Joint quantile normalization onto a GEO reference distribution, and per-gene standardization.

Everything works on blocks of profiles (rows), float32 in and out, float64 where sums need it, so full-size GEO
(111,009 x 10,463) is never copied in float64.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np

TIES = ("average", "original")
STD_EPS = 1e-3  # the original code's std + 1e-3


def _blocks(values: np.ndarray, chunk: int) -> Iterable[np.ndarray]:
    return (values[s : s + chunk] for s in range(0, len(values), chunk))


def quantile_reference(values: np.ndarray | Iterable[np.ndarray], chunk: int = 4096) -> np.ndarray:
    """Reference distribution: the mean over profiles (rows) of each profile's sorted values, in float64.

    `values` is a profiles x genes array or an iterable of such blocks.
    """
    blocks = _blocks(values, chunk) if isinstance(values, np.ndarray) else values
    acc, n = None, 0
    for block in blocks:
        srt = np.sort(block, axis=1).sum(axis=0, dtype=np.float64)
        acc = srt if acc is None else acc + srt
        n += len(block)
    if not n:
        raise ValueError("quantile reference: no profiles")
    return acc / n


def _run_bounds(new_run: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) position of the run of equal sorted values that each position belongs to."""
    n = new_run.shape[1]
    pos = np.arange(n)
    start = np.maximum.accumulate(np.where(new_run, pos, 0), axis=1)
    last = np.ones_like(new_run)
    last[:, :-1] = new_run[:, 1:]
    end = np.minimum.accumulate(np.where(last, pos, n - 1)[:, ::-1], axis=1)[:, ::-1] + 1
    return start, end


def map_to_reference(values: np.ndarray, reference: np.ndarray, ties: str = "average", chunk: int = 2048,
                     microarray: bool = False) -> np.ndarray:
    """Replace every profile's values by the reference values at their ranks (float32 out).

    ties='average': tied values all get the mean of the reference over the ranks they span.
    ties='original': the D-GEX code's rules. RNA-Seq (GTEx_reqnorm.py, 1000G_reqnorm.py): dense rank r among the
    profile's u distinct values maps to reference[int((r + 1) / u * n) - 1], stretching the distinct values over the
    whole reference. Microarray (bgedv2_reqnorm.py, microarray=True): reference[int(average rank)], 0-based.
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
        block = np.asarray(values[s : s + chunk])
        order = np.argsort(block, axis=1, kind="stable")
        srt = np.take_along_axis(block, order, axis=1)
        new_run = np.ones(srt.shape, dtype=bool)
        new_run[:, 1:] = srt[:, 1:] != srt[:, :-1]
        if ties == "average":
            start, end = _run_bounds(new_run)
            res = (cum[end] - cum[start]) / (end - start)
        elif microarray:
            start, end = _run_bounds(new_run)
            res = ref[(start + end - 1) // 2]
        else:
            dense = np.cumsum(new_run, axis=1) - 1
            u = dense[:, -1:] + 1
            res = ref[((dense + 1.0) / u * n).astype(np.int64) - 1]
        np.put_along_axis(out[s : s + chunk], order, res.astype(np.float32), axis=1)
    return out


class GeneStats:
    """Per-gene mean and standard deviation accumulated over blocks of profiles (float64, shifted sums)."""

    def __init__(self) -> None:
        self.n = 0
        self.shift: np.ndarray | None = None
        self.s1: np.ndarray | None = None
        self.s2: np.ndarray | None = None

    def add(self, block: np.ndarray) -> None:
        """Accumulate a block of profiles x genes."""
        if not len(block):
            return
        if self.shift is None:  # shifting by a first estimate of the mean keeps the sums of squares accurate
            self.shift = block.mean(axis=0, dtype=np.float64)
            self.s1 = np.zeros_like(self.shift)
            self.s2 = np.zeros_like(self.shift)
        d = block - self.shift
        self.s1 += d.sum(axis=0)
        self.s2 += np.einsum("ij,ij->j", d, d)
        self.n += len(block)

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """(mean, std + 1e-3), population standard deviation as numpy's default (the original code's)."""
        if not self.n:
            raise ValueError("gene statistics: no profiles")
        m1 = self.s1 / self.n
        var = np.maximum(self.s2 / self.n - m1 * m1, 0.0)
        return self.shift + m1, np.sqrt(var) + STD_EPS


def gene_stats(values: np.ndarray | Iterable[np.ndarray], chunk: int = 8192) -> tuple[np.ndarray, np.ndarray]:
    """Per-gene mean and standard deviation + 1e-3 (float64), as the original code; array or iterable of blocks."""
    blocks = _blocks(values, chunk) if isinstance(values, np.ndarray) else values
    acc = GeneStats()
    for block in blocks:
        acc.add(block)
    return acc.result()


def standardize(values: np.ndarray, mean: np.ndarray, std: np.ndarray, chunk: int = 8192) -> np.ndarray:
    """(values - mean) / std per gene, float32 (computed block by block, never a full float64 copy)."""
    out = np.empty(values.shape, dtype=np.float32)
    for s in range(0, len(values), chunk):
        out[s : s + chunk] = (values[s : s + chunk] - mean) / std
    return out
