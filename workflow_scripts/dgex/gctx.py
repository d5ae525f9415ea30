"""GCT/GCTX files (CMap's format; cmapPy's on-disk layout): reading whole, streaming in profile blocks, writing.

A GCTX stores /0/DATA/0/matrix as profiles x rows (float32), with row and column metadata under /0/META/ROW and
/0/META/COL. Metadata are parsed by cmapPy; values are read with h5py in blocks, so a compendium never has to fit in
memory. GCT text files are read whole through cmapPy. The format is told by a file's first bytes, not its name.
"""
from __future__ import annotations

import contextlib
import os
import queue
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import pandas as pd

from .io import InputError, atomic_path, check_finite_values, check_unique
from .reproducible import h5_create, untimed_h5_datasets

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
GCTX_MATRIX = "0/DATA/0/matrix"
GCTX_ROW_META = "0/META/ROW"
GCTX_COL_META = "0/META/COL"
GCTX_VERSION = "GCTX1.0"
CMAP_NULL = -666  # CMap's placeholder for a missing value or field


@dataclass
class Gct:
    """An expression matrix as in a GCT(X) file, stored profiles x genes (the GCTX on-disk layout)."""

    values: np.ndarray  # (n_profiles, n_rows) float32
    rids: list[str]  # row ids (probes / genes)
    cids: list[str]  # column ids (profiles)
    row_meta: pd.DataFrame = field(default_factory=pd.DataFrame)
    col_meta: pd.DataFrame = field(default_factory=pd.DataFrame)


def sniff_format(path: str | os.PathLike) -> str:
    """Return 'gctx' (HDF5) or 'gct' (text) from a file's first bytes, or raise InputError."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: file not found")
    with open(path, "rb") as fh:
        head = fh.read(64)
    if head.startswith(HDF5_MAGIC):
        return "gctx"
    if head.startswith(b"#1.2") or head.startswith(b"#1.3"):
        return "gct"
    snippet = head[:32].decode("utf-8", "replace").strip().replace("\n", " ")
    kind = "an HTML page" if b"<html" in head.lower() or b"<!doctype" in head.lower() else "not GCT/GCTX"
    raise InputError(f"{path}: expected a GCTX (HDF5) or GCT text file, but the file is {kind} (starts with {snippet!r})")


_PD_TO_NUMERIC = pd.to_numeric


def _to_numeric(arg, errors: str = "raise", **kwargs):
    """pd.to_numeric, with pandas 2's errors="ignore" (return the input unchanged when it does not parse), gone in pandas 3."""
    if errors != "ignore":
        return _PD_TO_NUMERIC(arg, errors=errors, **kwargs)
    try:
        return _PD_TO_NUMERIC(arg, errors="raise", **kwargs)
    except (ValueError, TypeError):
        return arg


@contextlib.contextmanager
def cmappy_compat() -> Iterator[None]:
    """Run cmapPy 4.0.1 (its newest release) under numpy 2 and pandas 3, for the block only.

    Its GCT/GCTX parsers call pd.to_numeric(errors="ignore") on every metadata column (pandas 3 removed it) and its
    GCTX writer calls np.string_ for ids and the version (numpy 2 removed it, np.bytes_ is the same type). Nothing
    else it runs on our paths (parse_gctx, parse_gct, write_gctx, GCToo) uses a removed name; tests/test_io.py
    round-trips files through it. Patches module attributes: not for use from several threads at once.
    """
    missing_string = "string_" not in vars(np)
    if missing_string:
        np.string_ = np.bytes_
    pd.to_numeric = _to_numeric
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", module=r"cmapPy\.")  # its deprecated pandas calls: ours to see, not users'
            yield
    finally:
        pd.to_numeric = _PD_TO_NUMERIC
        if missing_string:
            del np.string_


def cmappy_parse(path: str | os.PathLike, keep_null: bool = False, **kwargs):
    """cmapPy's GCTX or GCT text parser (chosen by content); keep_null keeps -666 as written instead of NaN."""
    from cmapPy.pandasGEXpress import parse_gct, parse_gctx

    parser = parse_gctx if sniff_format(path) == "gctx" else parse_gct
    if keep_null:  # so placeholders in the data are caught by the caller, not hidden as NaN
        kwargs["convert_neg_666"] = False
    with cmappy_compat():
        return parser.parse(str(path), **kwargs)


def gctx_meta(path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Row and column metadata of a GCTX file through cmapPy, without its values."""
    return cmappy_parse(path, row_meta_only=True), cmappy_parse(path, col_meta_only=True)


def gctx_shape(path: str | os.PathLike) -> tuple[int, int]:
    """(n_rows, n_profiles) of a GCTX file without reading its values."""
    import h5py

    path = Path(path)
    sniff_format(path)
    try:
        with h5py.File(path, "r") as f:
            n_cols, n_rows = f[GCTX_MATRIX].shape
    except (OSError, KeyError) as exc:
        raise InputError(f"{path}: corrupt or truncated GCTX ({exc})") from exc
    return n_rows, n_cols


def chunk_aligned(rows: int, chunks: tuple[int, ...] | None) -> int:
    """`rows` profiles rounded down to whole HDF5 chunks (at least one): a partial chunk would be read (and decoded) twice."""
    if not chunks:
        return rows
    return max(chunks[0], rows // chunks[0] * chunks[0])


# --------------------------------------------------------------------------- reading
def read_gctx_ids(path: str | os.PathLike) -> tuple[list[str], list[str]]:
    """Row ids and column ids of a GCTX file, validated unique, without reading its values."""
    path = Path(path)
    if sniff_format(path) != "gctx":
        g = read_gct(path)
        return g.rids, g.cids
    try:
        row_meta, col_meta = gctx_meta(path)
    except Exception as exc:
        raise InputError(f"{path}: corrupt or unreadable GCTX file ({type(exc).__name__}: {exc})") from exc
    rids = [str(r) for r in row_meta.index]
    cids = [str(c) for c in col_meta.index]
    check_unique(rids, f"{path}: row ids")
    check_unique(cids, f"{path}: column ids")
    if gctx_shape(path) != (len(rids), len(cids)):
        raise InputError(f"{path}: matrix shape {gctx_shape(path)} does not match {len(rids)} row ids x {len(cids)} column ids")
    return rids, cids


def read_gct(path: str | os.PathLike, profiles: Sequence[int] | slice | None = None, check_finite: bool = True) -> Gct:
    """Read a GCT or GCTX file (all profiles, or a slice/index list of them) and validate its ids and values."""
    path = Path(path)
    fmt = sniff_format(path)
    try:
        if fmt == "gctx":
            row_meta, col_meta = gctx_meta(path)
            import h5py

            with h5py.File(path, "r") as f:
                dset = f[GCTX_MATRIX]
                if profiles is None:
                    values = dset[...]
                elif isinstance(profiles, slice):
                    values = dset[profiles]
                else:
                    idx = np.asarray(profiles, dtype=np.int64)
                    order = np.argsort(idx)
                    values = np.empty((len(idx), dset.shape[1]), dtype=dset.dtype)
                    values[order] = dset[idx[order]] if len(idx) else values[order]
            if profiles is not None:
                col_meta = col_meta.iloc[profiles if isinstance(profiles, slice) else list(profiles)]
        else:
            g = cmappy_parse(path)
            row_meta, col_meta = g.row_metadata_df, g.col_metadata_df
            values = g.data_df.values.T
            if profiles is not None:
                values = values[profiles]
                col_meta = col_meta.iloc[profiles if isinstance(profiles, slice) else list(profiles)]
    except InputError:
        raise
    except Exception as exc:  # cmapPy / h5py raise many types on damaged files
        raise InputError(f"{path}: corrupt or unreadable {fmt.upper()} file ({type(exc).__name__}: {exc})") from exc
    values = np.ascontiguousarray(values, dtype=np.float32)
    rids = [str(r) for r in row_meta.index]
    cids = [str(c) for c in col_meta.index]
    if values.shape != (len(cids), len(rids)):
        raise InputError(f"{path}: matrix shape {values.shape} does not match {len(cids)} column ids x {len(rids)} row ids")
    check_unique(rids, f"{path}: row ids")
    check_unique(cids, f"{path}: column ids")
    if check_finite:
        check_finite_values(values, str(path))
    return Gct(values, rids, cids, row_meta, col_meta)


class GctxReader:
    """The matrix of a GCTX file read in blocks of profiles (whole HDF5 chunks); errors name the file and the profiles.

    It serves dedup.deduplicate as a ProfileSource (n_profiles, n_features, block_rows, read).
    """

    def __init__(self, path: str | os.PathLike, block_rows: int = 4000, check_finite: bool = True):
        import h5py

        self.path = Path(path)
        self.n_features, self.n_profiles = gctx_shape(self.path)  # rows (probes, genes) x profiles
        self.check_finite = check_finite
        self._file = h5py.File(self.path, "r")
        self._dset = self._file[GCTX_MATRIX]
        self.block_rows = chunk_aligned(block_rows, self._dset.chunks)

    def read(self, start: int, stop: int, out: np.ndarray | None = None) -> np.ndarray:
        """Profiles start..stop-1 as float32 (profiles x rows), into the leading rows of `out` when given (C-contiguous float32).

        Reusing `out` spares a fresh block-size allocation per read, which is slow when memory is taken by the page cache.
        """
        try:
            if out is not None and self._dset.dtype == np.float32:
                block = out[: stop - start]
                self._dset.read_direct(block, np.s_[start:stop])
            else:
                block = np.asarray(self._dset[start:stop], dtype=np.float32)
        except (OSError, ValueError) as exc:
            raise InputError(f"{self.path}: corrupt or truncated GCTX, profiles {start}..{stop - 1} unreadable ({exc})") from exc
        if self.check_finite:
            check_finite_values(block, f"{self.path} (profiles {start}..{stop - 1})")
        return block

    def blocks(self, reuse: bool = False) -> Iterator[tuple[int, np.ndarray]]:
        """(start, block) over every profile, `block_rows` at a time; reuse: every block in one buffer (use each at once)."""
        buf = np.empty((min(self.block_rows, self.n_profiles), self.n_features), dtype=np.float32) if reuse else None
        for start in range(0, self.n_profiles, self.block_rows):
            yield start, self.read(start, min(self.n_profiles, start + self.block_rows), buf)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> "GctxReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def iter_gctx_profiles(path: str | os.PathLike, chunk: int, reuse: bool = False) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (start, float32 block of about `chunk` profiles x rows) from a GCTX file without loading it all.

    reuse: every block is read into the same buffer (each must be used before the next is asked for).
    """
    with GctxReader(path, chunk) as reader:
        yield from reader.blocks(reuse)


def _decode(a: np.ndarray) -> list[str]:
    return [x.decode("utf-8") if isinstance(x, bytes) else str(x) for x in a]


class GctxStream:
    """Profiles of a GCTX (streamed) or a GCT text file (read whole) with -666 kept as written: ids, metadata, blocks."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.format = sniff_format(self.path)
        try:
            if self.format == "gctx":
                self.row_meta = cmappy_parse(self.path, keep_null=True, row_meta_only=True)
                self._cols_meta = None
                n_rows, self.n_profiles = gctx_shape(self.path)
                if n_rows != len(self.row_meta):
                    raise InputError(f"{self.path}: matrix has {n_rows} rows but the row metadata lists {len(self.row_meta)}")
            else:
                g = cmappy_parse(self.path, keep_null=True)
                self.row_meta, self._cols_meta = g.row_metadata_df, g.col_metadata_df
                self._values = np.ascontiguousarray(g.data_df.to_numpy(np.float32).T)
                self.n_profiles = self._values.shape[0]
        except InputError:
            raise
        except Exception as exc:  # cmapPy and h5py raise many types on damaged files
            raise InputError(f"{self.path}: corrupt or unreadable {self.format.upper()} file "
                             f"({type(exc).__name__}: {exc})") from exc
        self.rids = [str(r) for r in self.row_meta.index]
        check_unique(self.rids, f"{self.path}: row ids")
        if self.n_profiles == 0:
            raise InputError(f"{self.path}: no profiles (columns)")

    def cids(self, start: int = 0, stop: int | None = None) -> list[str]:
        """Column (profile) ids start..stop, read on demand."""
        if self._cols_meta is not None:
            return [str(c) for c in self._cols_meta.index[start:stop]]
        import h5py

        with h5py.File(self.path, "r") as f:
            return _decode(f[f"{GCTX_COL_META}/id"][start:stop])

    def col_field(self, name: str, n: int = 1000) -> list[str] | None:
        """The first n values of a column-metadata field, or None if absent."""
        if self._cols_meta is not None:
            return [str(v) for v in self._cols_meta[name].iloc[:n]] if name in self._cols_meta.columns else None
        import h5py

        with h5py.File(self.path, "r") as f:
            grp = f[GCTX_COL_META]
            return _decode(grp[name][:n]) if name in grp else None

    def blocks(self, chunk: int) -> Iterator[tuple[int, np.ndarray]]:
        """(start, float32 profiles x rows) blocks of `chunk` profiles, values as written (not checked)."""
        if self._cols_meta is not None:
            for s in range(0, self.n_profiles, chunk):
                yield s, self._values[s : s + chunk]
            return
        with GctxReader(self.path, check_finite=False) as reader:
            for s in range(0, self.n_profiles, chunk):
                yield s, reader.read(s, min(self.n_profiles, s + chunk))

    def copy_col_meta(self, meta_group) -> None:
        """Write the column metadata into an open output file's /0/META group (HDF5-side copy for GCTX)."""
        if self._cols_meta is None:
            import h5py

            with h5py.File(self.path, "r") as f:
                f.copy(f[GCTX_COL_META], meta_group, name="COL")
            return
        _write_meta(meta_group.create_group("COL"), [str(c) for c in self._cols_meta.index], self._cols_meta)


# --------------------------------------------------------------------------- writing
def _meta_array(values: pd.Series) -> np.ndarray:
    """A metadata field as cmapPy writes it: numbers as numbers, everything else as UTF-8 bytes."""
    if pd.api.types.is_bool_dtype(values):
        return values.to_numpy(np.int64)
    if pd.api.types.is_numeric_dtype(values):
        return values.to_numpy()
    return np.array([str(v).encode("utf-8") for v in values])


def _write_meta(group, ids: Sequence[str], meta: pd.DataFrame) -> None:
    group.create_dataset("id", data=np.array([str(i).encode("utf-8") for i in ids]), track_times=False)
    for name in meta.columns:
        if str(name) != "id":
            group.create_dataset(str(name), data=_meta_array(meta[name]), track_times=False)


class GctxWriter:
    """A GCTX file in cmapPy's layout written profile block by block (no timestamps: equal profiles give equal bytes)."""

    def __init__(self, path: str | os.PathLike, rids: Sequence[str], row_meta: pd.DataFrame, n_profiles: int,
                 compression: int = 0, src: str | None = None):
        self.f = h5_create(path)
        self.f.attrs["version"] = np.bytes_(GCTX_VERSION)
        self.f.attrs["src"] = src or Path(path).name
        n_rows = len(rids)
        if compression:
            # chunks of whole profiles, about 1 MB each, as reading usually goes by profile
            k = int(max(1, min(n_profiles, (1 << 20) // (4 * n_rows))))
            self.dset = self.f.create_dataset(GCTX_MATRIX, shape=(n_profiles, n_rows), dtype=np.float32, chunks=(k, n_rows),
                                              compression="gzip", compression_opts=int(compression), track_times=False)
        else:
            self.dset = self.f.create_dataset(GCTX_MATRIX, shape=(n_profiles, n_rows), dtype=np.float32, track_times=False)
        self.meta = self.f.require_group("0/META")
        _write_meta(self.meta.create_group("ROW"), rids, row_meta)

    def write(self, start: int, block: np.ndarray) -> None:
        self.dset[start : start + len(block)] = block

    def push_to_disk(self, wait: bool = False) -> None:
        """Start writing the file's cached pages to disk (and drop those already written), or wait until all are written."""
        fd = self.f.id.get_vfd_handle()
        if wait:
            os.fdatasync(fd)
        elif hasattr(os, "posix_fadvise"):  # Linux starts the write-back of dirty pages in the range, without waiting
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)

    def close(self) -> None:
        self.f.close()


class BlockWriter:
    """Writes profile blocks to a GctxWriter from a second thread, so the disk works while the next block is inferred.

    The caller fills one of `depth` reusable buffers (`buffer()`) and hands it over (`submit`); the thread writes it,
    starts its write-back to disk and returns the buffer. Every `sync_bytes` it waits for the disk, so the output that
    sits only in memory stays bounded. An error in the thread is raised in the caller at its next call, and nothing is
    written after it. threaded=False writes in the caller (same bytes, no overlap).
    """

    def __init__(self, writer: GctxWriter, block_shape: tuple[int, int], depth: int = 2, threaded: bool = True,
                 sync_bytes: int = 512 << 20):
        self.writer, self.threaded, self.sync_bytes = writer, threaded, sync_bytes
        self.error: BaseException | None = None
        self._unsynced = 0
        self._free: queue.Queue = queue.Queue()
        for _ in range(depth if threaded else 1):
            self._free.put(np.empty(block_shape, dtype=np.float32))
        self._todo: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="gctx-block-writer", daemon=True) if threaded else None
        if self._thread:
            self._thread.start()

    def buffer(self) -> np.ndarray:
        """A free block buffer to fill (waits until the thread has written one)."""
        buf = self._free.get()
        self._raise()
        return buf

    def submit(self, start: int, buf: np.ndarray, n: int) -> None:
        """Write the first n profiles of `buf` (from `buffer()`) at profile `start`; the buffer is reused afterwards."""
        self._raise()
        if self._thread:
            self._todo.put((start, buf, n))
        else:
            self._write(start, buf, n)

    def _write(self, start: int, buf: np.ndarray, n: int) -> None:
        # in pieces of about 32 MB: h5py holds one lock for all its calls, and the caller reads the next input with it
        step = max(1, (32 << 20) // max(1, buf[:1].nbytes))
        for s in range(0, n, step):
            self.writer.write(start + s, buf[s : min(n, s + step)])
        self._unsynced += buf[:n].nbytes
        wait = self._unsynced >= self.sync_bytes
        self.writer.push_to_disk(wait)
        self._unsynced = 0 if wait else self._unsynced
        self._free.put(buf)

    def _run(self) -> None:
        while (item := self._todo.get()) is not None:
            if self.error is None:
                try:
                    self._write(*item)
                    continue
                except BaseException as exc:  # raised in the caller
                    self.error = exc
            self._free.put(item[1])

    def _raise(self) -> None:
        if self.error is not None:
            raise self.error

    def _stop(self) -> None:
        """Let the thread write what was submitted, then end it."""
        if self._thread and self._thread.is_alive():
            self._todo.put(None)
            self._thread.join()

    def close(self) -> None:
        """Write what was submitted and stop the thread; raises the thread's error."""
        self._stop()
        self._raise()

    def __enter__(self) -> "BlockWriter":
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if exc_type is None:
            self.close()
        else:  # the caller's error wins; only stop the thread
            self._stop()


def write_gct(path: str | os.PathLike, gct: Gct) -> None:
    """Write a whole GCTX file through cmapPy, atomically and byte-reproducibly."""
    from cmapPy.pandasGEXpress import write_gctx
    from cmapPy.pandasGEXpress.GCToo import GCToo

    path = Path(path)
    row_meta = gct.row_meta if len(gct.row_meta.columns) else pd.DataFrame(index=pd.Index(gct.rids))
    col_meta = gct.col_meta if len(gct.col_meta.columns) else pd.DataFrame(index=pd.Index(gct.cids))
    row_meta = row_meta.copy()
    col_meta = col_meta.copy()
    row_meta.index = pd.Index(gct.rids, name="rid")
    col_meta.index = pd.Index(gct.cids, name="cid")
    row_meta.columns.name = "rhd"
    col_meta.columns.name = "chd"
    data = pd.DataFrame(np.asarray(gct.values, dtype=np.float32).T, index=row_meta.index, columns=col_meta.index)
    data.index.name, data.columns.name = "rid", "cid"
    g = GCToo(data_df=data, row_metadata_df=row_meta, col_metadata_df=col_meta, src=path.name)  # src: not the temp name
    with atomic_path(path) as tmp, untimed_h5_datasets(), cmappy_compat():
        # cmapPy appends ".gctx" to names lacking it; the temporary name keeps the final suffix.
        write_gctx.write(g, str(tmp))
