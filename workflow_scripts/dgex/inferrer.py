"""From landmark profiles to every target: the bundle's quantile normalization and standardization, then its networks."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .bundle import Bundle
from .io import InputError
from .network import load_model
from .normalize import map_to_reference

NORMALIZATIONS = ("quantile", "none")
METHODS = ("dgex", "lr")  # dgex-infer --method: the networks, or the LR baseline LINCS uses


def interpolated_reference(reference: np.ndarray, n: int) -> np.ndarray:
    """The reference distribution at n evenly spaced quantiles (for profiles missing some landmarks)."""
    m = len(reference)
    if n == m:
        return reference
    return np.interp((np.arange(n) + 0.5) / n, (np.arange(m) + 0.5) / m, reference)


def model_inputs(L: np.ndarray, present: np.ndarray, bundle: Bundle, normalization: str) -> np.ndarray:
    """Standardized network inputs (profiles x all landmarks) from the measured landmark block L (profiles x present).

    quantile: each profile's landmarks are first mapped onto the training landmark distribution by rank (ties averaged,
    as the workflow's quantile normalization); none: L is already on the training scale. Absent landmarks get the
    training mean (0 after standardization).
    """
    if normalization not in NORMALIZATIONS:
        raise InputError(f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}")
    if normalization == "quantile":
        ref = interpolated_reference(bundle.reference, int(present.sum()))
        # L1000 is a microarray-like platform: ties='original' takes the D-GEX code's microarray rule, as for GEO
        L = map_to_reference(L, ref, ties=bundle.manifest.get("quantile_ties", "average"), microarray=True)
    mean = bundle.landmarks["mean"].to_numpy(np.float32)[present]
    std = bundle.landmarks["std"].to_numpy(np.float32)[present]
    Z = (np.asarray(L, dtype=np.float32) - mean) / std
    if present.all():
        return Z
    full = np.zeros((len(L), len(present)), dtype=np.float32)
    full[:, present] = Z
    return full


class Inferrer:
    """The bundle's networks; maps standardized landmarks to every target in expression units."""

    def __init__(self, bundle: Bundle, batch: int = 4096):
        import tensorflow as tf

        self.bundle, self.batch = bundle, batch
        self.parts = []
        part_col = bundle.targets["part"].to_numpy()
        for p, f in sorted(bundle.part_files().items()):
            model = load_model(f)
            cols = np.flatnonzero(part_col == p)
            if len(cols) and cols[-1] - cols[0] + 1 == len(cols):
                cols = slice(int(cols[0]), int(cols[-1]) + 1)  # a block: no scattered writes
            n_part = int((part_col == p).sum())
            if model.input_shape[-1] != len(bundle.landmarks) or model.output_shape[-1] != n_part:
                raise InputError(f"{f}: network shape {model.input_shape[-1]} -> {model.output_shape[-1]} does not "
                                 f"fit the bundle's "
                                 f"{len(bundle.landmarks)} landmarks -> {n_part} targets of part {p}")
            fn = tf.function(lambda x, m=model: m(x, training=False), reduce_retracing=True)
            self.parts.append((fn, cols))
        self.mean = bundle.targets["mean"].to_numpy(np.float64).astype(np.float32)
        self.std = bundle.targets["std"].to_numpy(np.float64).astype(np.float32)

    def __call__(self, Z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Inferred targets (profiles x targets, float32, expression units) from standardized landmarks Z, into `out` if given."""
        if out is None:
            out = np.empty((len(Z), len(self.mean)), dtype=np.float32)
        for s in range(0, len(Z), self.batch):
            z = Z[s : s + self.batch]
            for fn, cols in self.parts:
                out[s : s + len(z), cols] = np.asarray(fn(z))
        out *= self.std
        out += self.mean
        return out


class LinearInferrer:
    """The bundle's LR baseline (LINCS's own method): standardized landmarks to every target in expression units."""

    def __init__(self, bundle: Bundle):
        from .artifacts import read_linear_model
        from .bundle import LINEAR_MODEL

        bundle.require("lr")
        W, b, landmarks, targets = read_linear_model(bundle.root / LINEAR_MODEL)
        if landmarks != bundle.landmarks["gene"].tolist() or sorted(targets) != sorted(bundle.targets["gene"]):
            raise InputError(f"{bundle.root / LINEAR_MODEL}: the linear model's genes are not the bundle's")
        order = pd.Index(targets).get_indexer(bundle.targets["gene"])  # the bundle's target order (grouped by part)
        self.W, self.b = np.ascontiguousarray(W[:, order]), b[order]
        self.mean = bundle.targets["mean"].to_numpy(np.float64).astype(np.float32)
        self.std = bundle.targets["std"].to_numpy(np.float64).astype(np.float32)

    def __call__(self, Z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Inferred targets (profiles x targets, float32, expression units) from standardized landmarks Z, into `out` if given."""
        if out is None:
            out = np.empty((len(Z), len(self.mean)), dtype=np.float32)
        np.matmul(Z, self.W, out=out)
        out += self.b
        out *= self.std
        out += self.mean
        return out


def make_inferrer(bundle: Bundle, method: str = "dgex") -> Inferrer | LinearInferrer:
    """The inferrer of `method`: dgex (the bundle's networks) or lr (its LR baseline)."""
    if method not in METHODS:
        raise InputError(f"method must be one of {METHODS}, got {method!r}")
    return Inferrer(bundle) if method == "dgex" else LinearInferrer(bundle)
