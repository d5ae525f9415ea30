"""The workflow's intermediate matrix format: HDF5 with profiles x genes float32 values and their ids."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from .io import InputError, atomic_path, check_finite_values, check_unique
from .reproducible import h5_create

STR = h5py.string_dtype("utf-8")


@dataclass
class Matrix:
    """Profiles x genes; the first `n_landmarks` genes are landmarks, the rest targets."""

    values: np.ndarray
    samples: list[str]
    genes: list[str]
    n_landmarks: int
    attrs: dict = field(default_factory=dict)

    @property
    def landmarks(self) -> list[str]:
        return self.genes[: self.n_landmarks]

    @property
    def targets(self) -> list[str]:
        return self.genes[self.n_landmarks :]

    @property
    def X(self) -> np.ndarray:
        """Landmark block (profiles x landmarks)."""
        return np.ascontiguousarray(self.values[:, : self.n_landmarks])

    @property
    def Y(self) -> np.ndarray:
        """Target block (profiles x targets)."""
        return np.ascontiguousarray(self.values[:, self.n_landmarks :])


def save_matrix(path: str | os.PathLike, m: Matrix) -> None:
    """Write a Matrix atomically and byte-reproducibly (no HDF5 timestamps)."""
    if m.values.shape != (len(m.samples), len(m.genes)):
        raise ValueError(f"{path}: values {m.values.shape} vs {len(m.samples)} samples x {len(m.genes)} genes")
    with atomic_path(path) as tmp:
        with h5_create(tmp) as f:
            f.create_dataset("values", data=np.asarray(m.values, dtype=np.float32), track_times=False)
            f.create_dataset("samples", data=np.array(m.samples, dtype=object), dtype=STR, track_times=False)
            f.create_dataset("genes", data=np.array(m.genes, dtype=object), dtype=STR, track_times=False)
            f.attrs["n_landmarks"] = int(m.n_landmarks)
            for k, v in sorted(m.attrs.items()):
                f.attrs[k] = v


def load_matrix(path: str | os.PathLike, genes: str = "all") -> Matrix:
    """Read a Matrix; genes='landmarks' reads only the landmark block."""
    path = Path(path)
    try:
        with h5py.File(path, "r") as f:
            n_lm = int(f.attrs["n_landmarks"])
            all_genes = [g.decode() if isinstance(g, bytes) else g for g in f["genes"][...]]
            samples = [s.decode() if isinstance(s, bytes) else s for s in f["samples"][...]]
            if genes == "landmarks":
                values = f["values"][:, :n_lm]
                all_genes = all_genes[:n_lm]
            else:
                values = f["values"][...]
            attrs = {k: v for k, v in f.attrs.items() if k != "n_landmarks"}
    except (OSError, KeyError) as exc:
        raise InputError(f"{path}: corrupt or not a matrix file ({exc})") from exc
    check_unique(samples, f"{path}: sample ids")
    check_finite_values(values, str(path))
    return Matrix(np.asarray(values, dtype=np.float32), samples, all_genes, n_lm, attrs)
