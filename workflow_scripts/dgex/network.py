"""The D-GEX network of the paper (section 2.3): building it, predicting with it, and its model files."""
from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np

from .architecture import Architecture
from .io import InputError, atomic_path
from .reproducible import rewrite_zip, untimed_h5_datasets


def build_model(n_in: int, n_out: int, arch: Architecture, seed: int):
    """Tanh hidden layers (Glorot uniform), linear outputs (U[-1e-4, 1e-4]); dropout before hidden layers 2..L and the output."""
    import keras

    inputs = keras.Input(shape=(n_in,), name="landmarks")
    h = inputs
    for i in range(arch.layers):
        if i > 0 and arch.dropout > 0:
            h = keras.layers.Dropout(arch.dropout, seed=seed + 100 + i, name=f"dropout_h{i + 1}")(h)
        h = keras.layers.Dense(arch.units, activation="tanh", name=f"h{i + 1}",
                               kernel_initializer=keras.initializers.GlorotUniform(seed=seed + i),
                               bias_initializer="zeros")(h)
    if arch.dropout > 0:
        h = keras.layers.Dropout(arch.dropout, seed=seed + 200, name="dropout_out")(h)
    outputs = keras.layers.Dense(n_out, activation="linear", name="targets",
                                 kernel_initializer=keras.initializers.RandomUniform(-1e-4, 1e-4, seed=seed + 50),
                                 bias_initializer="zeros")(h)
    return keras.Model(inputs, outputs, name=f"dgex_{arch.name}")


def gradient_scales(model, scale_after_first: float) -> list[float]:
    """Per-variable learning-rate multipliers: weight matrices after the first get `scale_after_first`, biases 1."""
    scales, seen_kernel = [], False
    for v in model.trainable_variables:
        if v.path.endswith("kernel"):
            scales.append(scale_after_first if seen_kernel else 1.0)
            seen_kernel = True
        else:
            scales.append(1.0)
    return scales


def predict(model, X: np.ndarray, batch: int = 4096) -> np.ndarray:
    """Inference in batches, float32."""
    out = [np.asarray(model(X[s : s + batch], training=False)) for s in range(0, len(X), batch)]
    return np.concatenate(out).astype(np.float32) if out else np.zeros((0, model.output_shape[-1]), np.float32)


def _renumber_shared_objects(config):
    """Replace Keras' shared_object_id values (Python id()s, new every run) by 1, 2, ... in order of appearance."""
    ids: dict[int, int] = {}

    def walk(x):
        if isinstance(x, dict):
            return {k: ids.setdefault(v, len(ids) + 1) if k == "shared_object_id" else walk(v) for k, v in x.items()}
        if isinstance(x, list):
            return [walk(v) for v in x]
        return x

    return walk(config)


def _without_save_details(name: str, data: bytes) -> bytes:
    """A .keras entry without what changes between equal saves: the save date and Keras' shared object ids."""
    if name == "metadata.json":
        meta = json.loads(data)
        meta.pop("date_saved", None)
        return json.dumps(meta, sort_keys=True).encode()
    if name == "config.json":
        return json.dumps(_renumber_shared_objects(json.loads(data))).encode()
    return data


def save_model(model, path: str | os.PathLike) -> None:
    """Save a .keras file atomically and byte-reproducibly (fixed zip times, no save date, no HDF5 timestamps)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        raw = tmp.with_name(tmp.name + ".raw.keras")
        try:
            with untimed_h5_datasets():
                model.save(raw)
            rewrite_zip(raw, tmp, _without_save_details)
        finally:
            if raw.exists():
                raw.unlink()


def load_model(path: str | os.PathLike):
    """Load a model file this workflow wrote, with Keras' safe mode on (no arbitrary code runs)."""
    import keras

    path = Path(path)
    if not zipfile.is_zipfile(path):
        raise InputError(f"{path}: not a .keras model file")
    try:
        return keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:
        raise InputError(f"{path}: cannot load model safely ({type(exc).__name__}: {exc})") from exc
