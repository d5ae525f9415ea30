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


def run_values(start: np.ndarray, end: np.ndarray, ref: np.ndarray, cum: np.ndarray, ties: str,
               microarray: bool) -> np.ndarray | None:
    """float32 value of runs of tied sorted positions start..end-1 ('average', or the microarray 'original' rule);
    None for the RNA-Seq 'original' rule, where a profile's dense ranks move every value after a tie. cum: the
    reference's cumulative sums, starting at 0."""
    if ties == "average":
        return ((cum[end] - cum[start]) / (end - start)).astype(np.float32)
    if microarray:
        return ref[(start + end - 1) // 2].astype(np.float32)
    return None


def tied_runs(eq: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flat index, and its run's start and end sorted position (end exclusive), of every value tied with a neighbour.

    eq: profiles x genes, True where sorted positions p and p + 1 hold equal values; its last column is False.
    """
    n = eq.shape[1]
    tied = eq.copy()
    tied[:, 1:] |= eq[:, :-1]
    at = np.flatnonzero(tied)  # row by row, runs are consecutive
    flat = eq.reshape(-1)
    first = ~flat[at - 1]  # a row's first position reads the previous row's last column: never tied
    last = ~flat[at]
    p = at % n
    run = np.cumsum(first) - 1
    return at, p[first][run], p[last][run] + 1


NAN_KEY = np.uint32(0xFFFFFFFF)  # sort key of every NaN: after +inf (0xFF800000), as numpy sorts NaN last


def sort_keys(values: np.ndarray) -> np.ndarray:
    """uint32 keys ordered as the float32 values, equal exactly where the values are equal (-0.0 as 0.0; NaN: NAN_KEY)."""
    u = (values + np.float32(0)).view(np.uint32)  # + 0 turns -0.0 into 0.0
    key = u ^ ((u >> np.uint32(31)) * np.uint32(0x7FFFFFFF) | np.uint32(0x80000000))  # negatives flipped, sign bit set
    key[np.isnan(values)] = NAN_KEY
    return key


def argsort_rows(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """np.argsort(values, axis=1, kind="stable") of float32 rows, and each row's sorted keys (sort_keys).

    One vectorized sort of (key, column) pairs as uint64 instead of a merge sort: equal values keep their column order.
    """
    n = values.shape[1]
    pairs = (sort_keys(values).astype(np.uint64) << np.uint64(32)) | np.arange(n, dtype=np.uint64)
    pairs.sort(axis=1)
    return (pairs & np.uint64(0xFFFFFFFF)).astype(np.intp), (pairs >> np.uint64(32)).astype(np.uint32)


def map_to_reference(values: np.ndarray, reference: np.ndarray, ties: str = "average", chunk: int = 128,
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
        if block.dtype == np.float32 and (ties == "average" or microarray):
            np.put_along_axis(out[s : s + chunk], *_order_and_run_values(block, ref, cum, ties), axis=1)
            continue
        order = argsort_rows(block)[0] if block.dtype == np.float32 else np.argsort(block, axis=1, kind="stable")
        srt = np.take_along_axis(block, order, axis=1)
        new_run = np.ones(srt.shape, dtype=bool)
        new_run[:, 1:] = srt[:, 1:] != srt[:, :-1]
        if ties == "average" or microarray:
            res = run_values(*_run_bounds(new_run), ref, cum, ties, microarray)
        else:
            dense = np.cumsum(new_run, axis=1) - 1
            u = dense[:, -1:] + 1
            res = ref[((dense + 1.0) / u * n).astype(np.int64) - 1]
        np.put_along_axis(out[s : s + chunk], order, res.astype(np.float32), axis=1)
    return out


def _order_and_run_values(block: np.ndarray, ref: np.ndarray, cum: np.ndarray, ties: str) -> tuple[np.ndarray, np.ndarray]:
    """(order, value at each sorted position) for 'average' or microarray 'original' ties, the general rule's numbers.

    A value tied with no other (nearly all of them) gets the run formula for a run of one, the same for every profile;
    the formula runs only over the positions of tied runs.
    """
    order, keys = argsort_rows(block)
    pos = np.arange(block.shape[1])
    res = np.empty(block.shape, dtype=np.float32)
    res[:] = run_values(pos, pos + 1, ref, cum, ties, True)
    eq = np.zeros(block.shape, dtype=bool)  # sorted positions p and p + 1 hold equal values (never the last)
    np.logical_and(keys[:, 1:] == keys[:, :-1], keys[:, 1:] != NAN_KEY, out=eq[:, :-1])
    if eq.any():
        at, start, end = tied_runs(eq)
        res.reshape(-1)[at] = run_values(start, end, ref, cum, ties, True)
    return order, res


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


def standardize(values: np.ndarray, mean: np.ndarray, std: np.ndarray, chunk: int = 128) -> np.ndarray:
    """(values - mean) / std per gene, float32: float64 arithmetic in one small reused buffer (no full float64 copy)."""
    out = np.empty(values.shape, dtype=np.float32)
    buf = np.empty((min(chunk, len(values)), values.shape[1]), dtype=np.float64)
    for s in range(0, len(values), chunk):
        b = buf[: len(values[s : s + chunk])]
        np.subtract(values[s : s + chunk], mean, out=b)
        np.divide(b, std, out=b)
        out[s : s + chunk] = b
    return out
