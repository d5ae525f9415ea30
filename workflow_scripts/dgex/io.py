"""File formats: atomic writes, GCT/GCTX (through cmapPy), gene maps, tab tables."""
from __future__ import annotations

import contextlib
import gzip
import logging
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import pandas as pd

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
GCTX_MATRIX = "0/DATA/0/matrix"
GCTX_ROW_IDS = "0/META/ROW/id"
GCTX_COL_IDS = "0/META/COL/id"


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


# --------------------------------------------------------------------------- GCT / GCTX
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


def cmappy_parse(path: str | os.PathLike, **kwargs):
    """cmapPy's GCTX parser, or its GCT text parser (chosen by content, not by the file's extension)."""
    from cmapPy.pandasGEXpress import parse_gct, parse_gctx

    parser = parse_gctx if sniff_format(path) == "gctx" else parse_gct
    with cmappy_compat():
        return parser.parse(str(path), **kwargs)


def _gctx_meta(path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
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


def read_gctx_ids(path: str | os.PathLike) -> tuple[list[str], list[str]]:
    """Row ids and column ids of a GCTX file, validated unique, without reading its values."""
    path = Path(path)
    if sniff_format(path) != "gctx":
        g = read_gct(path)
        return g.rids, g.cids
    try:
        row_meta, col_meta = _gctx_meta(path)
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
            row_meta, col_meta = _gctx_meta(path)
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


def iter_gctx_profiles(path: str | os.PathLike, chunk: int) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (start, float32 block of `chunk` profiles x rows) from a GCTX file without loading it all."""
    import h5py

    path = Path(path)
    n_rows, n_cols = gctx_shape(path)
    with h5py.File(path, "r") as f:
        dset = f[GCTX_MATRIX]
        if dset.chunks:  # whole HDF5 chunks per block: a partial chunk would be read (and decoded) twice
            chunk = max(dset.chunks[0], chunk // dset.chunks[0] * dset.chunks[0])
        for start in range(0, n_cols, chunk):
            try:
                block = np.asarray(dset[start : start + chunk], dtype=np.float32)
            except (OSError, ValueError) as exc:
                raise InputError(f"{path}: corrupt or truncated GCTX, profiles {start}..{min(n_cols, start + chunk) - 1} "
                                 f"unreadable ({exc})") from exc
            check_finite_values(block, f"{path} (profiles {start}..{start + len(block) - 1})")
            yield start, block


def write_gct(path: str | os.PathLike, gct: Gct) -> None:
    """Write a GCTX file through cmapPy, atomically."""
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
    with atomic_path(path) as tmp, _h5_without_timestamps(), cmappy_compat():
        # cmapPy appends ".gctx" to names lacking it; the temporary name keeps the final suffix.
        write_gctx.write(g, str(tmp))


def h5_create(path: str | os.PathLike, track_order: bool = True):
    """A new (truncated) h5py.File whose root group carries no timestamps, so equal data gives equal bytes."""
    import h5py

    fcpl = h5py.h5p.create(h5py.h5p.FILE_CREATE)
    fcpl.set_obj_track_times(False)  # h5py.File(..., track_order=True) would stamp the root group's creation time
    if track_order:
        order = h5py.h5p.CRT_ORDER_TRACKED | h5py.h5p.CRT_ORDER_INDEXED
        fcpl.set_link_creation_order(order)
        fcpl.set_attr_creation_order(order)
    return h5py.File(h5py.h5f.create(os.fsencode(path), h5py.h5f.ACC_TRUNC, fcpl=fcpl))


@contextlib.contextmanager
def _h5_without_timestamps() -> Iterator[None]:
    """Make h5py datasets created inside (by cmapPy) carry no timestamps, so equal data gives equal bytes."""
    import h5py

    original = h5py.Group.create_dataset

    def create_dataset(self, name, *args, **kwargs):
        kwargs.setdefault("track_times", False)
        return original(self, name, *args, **kwargs)

    h5py.Group.create_dataset = create_dataset
    try:
        yield
    finally:
        h5py.Group.create_dataset = original


# --------------------------------------------------------------------------- validation
def check_unique(ids: Sequence[str], what: str) -> None:
    """Raise InputError naming duplicated ids."""
    s = pd.Index(ids)
    if s.has_duplicates:
        dups = s[s.duplicated()].unique()
        raise InputError(f"{what}: {len(dups)} duplicated id(s), e.g. {list(dups[:5])}")


def check_finite_values(values: np.ndarray, what: str) -> None:
    """Raise InputError if `values` holds NaN or Inf."""
    if not np.isfinite(values).all():
        bad = ~np.isfinite(values)
        n_nan = int(np.isnan(values).sum())
        raise InputError(f"{what}: {int(bad.sum())} non-finite value(s) ({n_nan} NaN, {int(bad.sum()) - n_nan} Inf)")


# --------------------------------------------------------------------------- gene maps and tables
@dataclass
class GeneMap:
    """A D-GEX gene map (map_lm.txt / map_tg.txt): symbol, Ensembl id, probe ids."""

    symbols: list[str]
    ensembl: list[str]
    probes: list[list[str]]

    def __len__(self) -> int:
        return len(self.ensembl)


def read_gene_map(path: str | os.PathLike) -> GeneMap:
    """Read a tab-separated gene map (symbol, Ensembl id, comma-separated probe ids; no header)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: gene map not found")
    symbols, ensembl, probes = [], [], []
    with open(path) as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.rstrip("\n\r")
            if not line.strip():
                continue
            parts = line.split("\t")
            if len(parts) != 3 or not parts[1].startswith("ENS") or not parts[2]:
                raise InputError(f"{path}:{lineno}: expected 'symbol<TAB>Ensembl id<TAB>probe[,probe...]', got {line[:80]!r}")
            symbols.append(parts[0])
            ensembl.append(parts[1])
            probes.append([p for p in parts[2].split(",") if p])
    if not ensembl:
        raise InputError(f"{path}: gene map is empty")
    check_unique(ensembl, f"{path}: Ensembl ids")
    return GeneMap(symbols, ensembl, probes)


def write_gene_map(path: str | os.PathLike, gmap: GeneMap) -> None:
    """Write a gene map in D-GEX's format."""
    lines = [f"{s}\t{e}\t{','.join(p)}\n" for s, e, p in zip(gmap.symbols, gmap.ensembl, gmap.probes)]
    write_text(path, "".join(lines))


G1000_ANNOTATION = ["TargetID", "Gene_Symbol", "Chr", "Coord"]


def read_g1000(path: str | os.PathLike) -> Gct:
    """Read a Geuvadis GeneQuantRPKM table (TargetID, Gene_Symbol, Chr, Coord, then one column per sample)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: file not found")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt") as fh:
            df = pd.read_csv(fh, sep="\t", low_memory=False)
    except (OSError, EOFError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise InputError(f"{path}: corrupt or unreadable table ({type(exc).__name__}: {exc})") from exc
    missing = [c for c in G1000_ANNOTATION if c not in df.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {missing}; expected {G1000_ANNOTATION} then one column per sample")
    samples = [c for c in df.columns if c not in G1000_ANNOTATION]
    if not samples:
        raise InputError(f"{path}: no sample columns")
    try:
        values = df[samples].to_numpy(dtype=np.float32).T
    except ValueError as exc:
        raise InputError(f"{path}: non-numeric expression values ({exc})") from exc
    rids = df["TargetID"].astype(str).tolist()
    check_unique(rids, f"{path}: TargetID")
    check_unique(samples, f"{path}: sample columns")
    check_finite_values(values, str(path))
    return Gct(values, rids, samples, df[G1000_ANNOTATION].set_index("TargetID"), pd.DataFrame(index=pd.Index(samples)))


def write_g1000(path: str | os.PathLike, gct: Gct, symbols: Sequence[str], chroms: Sequence[str], coords: Sequence[int]) -> None:
    """Write a Geuvadis-style GeneQuantRPKM table, gzipped when the path ends in .gz."""
    df = pd.DataFrame({"TargetID": gct.rids, "Gene_Symbol": list(symbols), "Chr": list(chroms), "Coord": list(coords)})
    df = pd.concat([df, pd.DataFrame(gct.values.T, columns=gct.cids)], axis=1)
    path = Path(path)
    with atomic_path(path) as tmp:
        if path.suffix == ".gz":
            with open(tmp, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as gz:
                gz.write(df.to_csv(sep="\t", index=False, float_format="%.4f", lineterminator="\n").encode())
        else:
            df.to_csv(tmp, sep="\t", index=False, float_format="%.4f", lineterminator="\n")
