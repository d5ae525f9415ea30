"""Byte-reproducible files: equal content gives equal bytes (no HDF5 timestamps, fixed zip entry times)."""
from __future__ import annotations

import contextlib
import os
import threading
import zipfile
from typing import Callable, Iterator

import numpy as np

from .io import atomic_path

_PATCH_LOCK = threading.RLock()
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can hold


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
def untimed_h5_datasets() -> Iterator[None]:
    """While inside, h5py datasets that other libraries create (cmapPy, Keras) carry no timestamps.

    This patches h5py.Group.create_dataset for the whole process until the block ends (a lock keeps two such blocks
    from interleaving), so use it only around the one write that needs it; code of this package that creates datasets
    itself passes track_times=False instead.
    """
    import h5py

    with _PATCH_LOCK:
        original = h5py.Group.create_dataset

        def create_dataset(self, name, *args, **kwargs):
            kwargs.setdefault("track_times", False)
            return original(self, name, *args, **kwargs)

        h5py.Group.create_dataset = create_dataset
        try:
            yield
        finally:
            h5py.Group.create_dataset = original


def fixed_zip_info(name: str, compress_type: int = zipfile.ZIP_STORED) -> zipfile.ZipInfo:
    """A zip entry header that does not depend on when or by whom the file was written."""
    info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
    info.compress_type = compress_type
    info.external_attr = 0o644 << 16
    return info


def rewrite_zip(src: str | os.PathLike, dst: str | os.PathLike, edit: Callable[[str, bytes], bytes]) -> None:
    """Copy a zip file's entries in name order, each through `edit(name, data)`, with fixed headers (deflated)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for name in sorted(zin.namelist()):
            zout.writestr(fixed_zip_info(name, zipfile.ZIP_DEFLATED), edit(name, zin.read(name)))


def write_npz(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> None:
    """An uncompressed .npz (np.load reads it), atomically and byte-reproducibly (fixed zip entry times)."""
    with atomic_path(path) as tmp:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
            for name, a in arrays.items():
                with zf.open(fixed_zip_info(f"{name}.npy"), "w", force_zip64=True) as fh:
                    np.lib.format.write_array(fh, np.ascontiguousarray(a), allow_pickle=False)
