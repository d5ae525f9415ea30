"""Byte-reproducible files: equal content gives equal bytes (no HDF5 timestamps, fixed zip entry times)."""
from __future__ import annotations

import contextlib
import os
import threading
from typing import Iterator

_PATCH_LOCK = threading.RLock()


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
