"""Block-wise reading of the intermediate matrix format (dgex.matrix), for full-size GEO without whole-file copies."""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import h5py
import numpy as np

from .io import InputError, check_finite_values, check_unique
from .matrix import Matrix
from .progress import Progress

log = logging.getLogger(__name__)
BLOCK = 4096  # profiles per block: 4096 x 10,463 genes is 171 MB of float32


@dataclass
class MatrixInfo:
    """A matrix file's ids and attributes, without its values."""

    path: Path
    samples: list[str]
    genes: list[str]
    n_landmarks: int
    attrs: dict = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.samples), len(self.genes)


def _text(values: np.ndarray) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else str(v) for v in values]


def matrix_info(path: str | os.PathLike) -> MatrixInfo:
    """Ids, landmark count and attributes of a matrix file (checked: unique samples, values of matching shape)."""
    path = Path(path)
    try:
        with h5py.File(path, "r") as f:
            info = MatrixInfo(path, _text(f["samples"][...]), _text(f["genes"][...]), int(f.attrs["n_landmarks"]),
                              {k: v for k, v in f.attrs.items() if k != "n_landmarks"})
            shape = f["values"].shape
    except (OSError, KeyError) as exc:
        raise InputError(f"{path}: corrupt or not a matrix file ({exc})") from exc
    if shape != info.shape:
        raise InputError(f"{path}: values {shape} do not match {len(info.samples)} samples x {len(info.genes)} genes")
    check_unique(info.samples, f"{path}: sample ids")
    return info


def iter_blocks(path: str | os.PathLike, rows: Sequence[int] | np.ndarray | None = None, block: int = BLOCK,
                label: str | None = None, reuse: bool = False) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (row indices, float32 values) over the file in file order, restricted to `rows` when given.

    Logs the progress of the pass (profiles the caller has finished with, rate, time left) as `label` (default: the file).
    reuse: blocks are read into one buffer (each must be used before the next is asked for): no fresh allocation per block.
    """
    path = Path(path)
    wanted = None
    if rows is not None:
        wanted = np.zeros(matrix_info(path).shape[0], dtype=bool)
        wanted[np.asarray(rows, dtype=np.int64)] = True
    try:
        with h5py.File(path, "r") as f:
            dset = f["values"]
            total = dset.shape[0] if wanted is None else int(wanted.sum())
            progress = Progress(label or str(path), total, log=log, unit=" profiles")
            direct = reuse and dset.dtype == np.float32 and len(dset.shape) == 2
            buf = np.empty((min(block, dset.shape[0]), dset.shape[1]), dtype=np.float32) if direct else None
            for s in range(0, dset.shape[0], block):
                idx = np.arange(s, min(dset.shape[0], s + block))
                if wanted is not None:
                    idx = idx[wanted[idx]]
                    if not len(idx):
                        continue
                if direct:
                    values = buf[: len(range(s, min(dset.shape[0], s + block)))]
                    dset.read_direct(values, np.s_[s : s + len(values)])
                else:
                    values = np.asarray(dset[s : s + block], dtype=np.float32)
                if wanted is not None:
                    values = values[idx - s]
                check_finite_values(values, f"{path} (profiles {idx[0]}..{idx[-1]})")
                yield idx, values
                progress.update(len(idx))
            progress.close()
    except (OSError, KeyError) as exc:
        raise InputError(f"{path}: corrupt or truncated matrix file ({exc})") from exc


def row_index(info: MatrixInfo, samples: Sequence[str], what: str) -> np.ndarray:
    """Row positions of `samples` in a matrix file; an error names the file and the missing samples."""
    index = {s: i for i, s in enumerate(info.samples)}
    missing = [s for s in samples if s not in index]
    if missing:
        raise InputError(f"{info.path}: {len(missing)} sample(s) of {what} are missing, e.g. {missing[:5]}")
    return np.fromiter((index[s] for s in samples), dtype=np.int64, count=len(samples))


def gather(path: str | os.PathLike, samples: Sequence[str], what: str, transform=None, label: str | None = None) -> Matrix:
    """The given samples of a matrix file, in the given order, optionally transformed block by block (float32).

    Progress is logged as `label` (default: the file).
    """
    info = matrix_info(path)
    check_unique(list(samples), f"{path}: {what}")
    rows = row_index(info, samples, what)
    if not len(rows):
        raise InputError(f"{path}: {what} selects no profiles")
    pos = np.full(info.shape[0], -1, dtype=np.int64)
    pos[rows] = np.arange(len(rows))
    out = np.empty((len(rows), info.shape[1]), dtype=np.float32)
    for idx, values in iter_blocks(path, rows, label=label, reuse=True):
        out[pos[idx]] = values if transform is None else transform(values)
    return Matrix(out, list(samples), info.genes, info.n_landmarks, dict(info.attrs))
