"""Writing files safely (atomic renames) and the checks every reader applies: unique ids, finite values."""
from __future__ import annotations

import contextlib
import logging
import os
import re
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import pandas as pd


class InputError(ValueError):
    """Bad input data: the message names the file and the problem."""


# --------------------------------------------------------------------------- atomic writes
@contextlib.contextmanager
def atomic_path(final: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `final`; fsync and rename it to `final` on success, delete on failure."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".tmp-{os.getpid()}-{final.name}"
    if tmp.exists():
        tmp.unlink()
    try:
        yield tmp
        if not tmp.exists():
            raise RuntimeError(f"writer produced no file for {final}")
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, final)
        dir_fd = os.open(final.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    finally:
        if tmp.exists():
            tmp.unlink()


TEMPORARY_NAME = re.compile(r"\.tmp-(\d+)-(.+)")  # atomic_path's temporaries: .tmp-<pid>-<final name>


def _pid_alive(pid: int) -> bool:
    """True when a process with this id exists (it may belong to another user)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temporaries(outputs: Sequence[str | os.PathLike], log: logging.Logger, only_dead: bool = False) -> None:
    """Delete the temporaries of these outputs left by a killed writer (atomic_path names, and <name>.raw.* of models).

    only_dead: keep those whose writer process still runs (a concurrent run on the same output); never our own.
    """
    for out in map(Path, outputs):
        for tmp in out.parent.glob(".tmp-*"):
            m = TEMPORARY_NAME.fullmatch(tmp.name)
            if not m or not (m.group(2) == out.name or m.group(2).startswith(out.name + ".raw.")) or not tmp.is_file():
                continue
            pid = int(m.group(1))
            if only_dead and (pid == os.getpid() or _pid_alive(pid)):
                continue
            log.info("removing %s, left by an interrupted attempt", tmp)
            tmp.unlink(missing_ok=True)


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write a text file atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_tsv(path: str | os.PathLike, df: pd.DataFrame, index: bool = False, float_format: str = "%.6g",
              na_rep: str = "") -> None:
    """Write a DataFrame as TSV atomically (missing values as na_rep)."""
    with atomic_path(path) as tmp:
        df.to_csv(tmp, sep="\t", index=index, float_format=float_format, lineterminator="\n", na_rep=na_rep)


# --------------------------------------------------------------------------- validation
def check_unique(ids: Sequence[str], what: str) -> None:
    """Raise InputError naming duplicated ids."""
    s = pd.Index(ids)
    if s.has_duplicates:
        dups = s[s.duplicated()].unique()
        raise InputError(f"{what}: {len(dups)} duplicated id(s), e.g. {list(dups[:5])}")


def check_finite_values(values: np.ndarray, what: str) -> None:
    """Raise InputError if `values` holds NaN or Inf (checked in slices: no mask the size of `values`)."""
    flat = np.asarray(values).reshape(-1)
    if not all(np.isfinite(flat[s : s + (1 << 20)]).all() for s in range(0, flat.size, 1 << 20)):
        bad = ~np.isfinite(values)
        n_nan = int(np.isnan(values).sum())
        raise InputError(f"{what}: {int(bad.sum())} non-finite value(s) ({n_nan} NaN, {int(bad.sum()) - n_nan} Inf)")
