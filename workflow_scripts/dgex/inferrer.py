"""From landmark profiles to every target: the bundle's quantile normalization and standardization, then its networks."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .bundle import Bundle
from .io import InputError
from .network import load_model
from .normalize import map_to_reference, run_values, tied_runs

NORMALIZATIONS = ("quantile", "none")
METHODS = ("dgex", "lr")  # dgex-infer --method: the networks, or the LR baseline LINCS uses


def interpolated_reference(reference: np.ndarray, n: int) -> np.ndarray:
    """The reference distribution at n evenly spaced quantiles (for profiles missing some landmarks)."""
    m = len(reference)
    if n == m:
        return reference
    return np.interp((np.arange(n) + 0.5) / n, (np.arange(m) + 0.5) / m, reference)


class RankMapper:
    """map_to_reference onto one fixed reference, block after block, with the same float32 results, several times faster.

    One SIMD argsort per block (the order within a run of ties changes no rule's result). The j-th smallest of a
    profile's values maps to table[j] unless it is tied, and the table is map_to_reference's own answer for a profile
    without ties; only the tied positions (few, even in 4-decimal L1000 values) get their run's value computed.
    """

    def __init__(self, reference: np.ndarray, ties: str = "average", microarray: bool = False):
        self.reference, self.ties, self.microarray = np.asarray(reference, dtype=np.float64), ties, microarray
        n = len(self.reference)
        self.table = map_to_reference(np.arange(n, dtype=np.float32)[None, :], self.reference, ties, microarray=microarray)[0]
        self.cum = np.concatenate([[0.0], np.cumsum(self.reference)])
        self._tiled = np.zeros((0, n), dtype=np.float32)

    def __call__(self, values: np.ndarray, out: np.ndarray | None = None, chunk: int = 2048) -> np.ndarray:
        """Every profile (row) of `values` mapped onto the reference by rank, float32, into `out` if given (C-contiguous).

        Works in chunks of profiles whose temporaries (under 32 MB) malloc reuses instead of mapping fresh pages.
        """
        m, n = values.shape
        if n != len(self.reference):
            raise ValueError(f"reference has {len(self.reference)} values but profiles have {n} genes")
        out = np.empty((m, n), dtype=np.float32) if out is None else out
        if out.shape != (m, n) or out.dtype != np.float32 or not out.flags.c_contiguous:
            raise ValueError(f"out must be a C-contiguous float32 array of shape {(m, n)}")
        for s in range(0, m, chunk):
            self._map(values[s : s + chunk], out[s : s + chunk])
        return out

    def _map(self, values: np.ndarray, out: np.ndarray) -> None:
        m, n = values.shape
        flat = np.argsort(values, axis=1)  # becomes flat positions in out: row * n + column
        flat += np.arange(0, m * n, n, dtype=np.intp)[:, None]
        if len(self._tiled) < m:
            self._tiled = np.broadcast_to(self.table, (m, n)).copy()
        out.reshape(-1)[flat.reshape(-1)] = self._tiled[:m].reshape(-1)
        srt = np.sort(values, axis=1)
        eq = np.zeros((m, n), dtype=bool)  # sorted position j ties with j + 1 (never the last)
        np.equal(srt[:, 1:], srt[:, :-1], out=eq[:, :-1])
        if not eq.any():
            return
        at, start, end = tied_runs(eq)
        vals = run_values(start, end, self.reference, self.cum, self.ties, self.microarray)
        if vals is None:
            rows = np.unique(at // n)
            out[rows] = map_to_reference(values[rows], self.reference, self.ties, microarray=self.microarray)
            return
        out.reshape(-1)[flat.reshape(-1)[at]] = vals


class InputPreparer:
    """model_inputs for one input layout (which landmarks are present), its reference and statistics computed once."""

    def __init__(self, present: np.ndarray, bundle: Bundle, normalization: str):
        if normalization not in NORMALIZATIONS:
            raise InputError(f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}")
        self.present = np.asarray(present, dtype=bool)
        self.mapper = None
        if normalization == "quantile":
            ref = interpolated_reference(bundle.reference, int(self.present.sum()))
            # L1000 is a microarray-like platform: ties='original' takes the D-GEX code's microarray rule, as for GEO
            self.mapper = RankMapper(ref, ties=bundle.manifest.get("quantile_ties", "average"), microarray=True)
        self.mean = bundle.landmarks["mean"].to_numpy(np.float32)[self.present]
        self.std = bundle.landmarks["std"].to_numpy(np.float32)[self.present]

    def __call__(self, L: np.ndarray) -> np.ndarray:
        """Standardized network inputs (profiles x all landmarks, float32) from the measured landmark block L."""
        Z = self.mapper(L) if self.mapper is not None else np.array(L, dtype=np.float32)
        Z -= self.mean
        Z /= self.std
        if self.present.all():
            return Z
        full = np.zeros((len(L), len(self.present)), dtype=np.float32)
        full[:, self.present] = Z
        return full


def model_inputs(L: np.ndarray, present: np.ndarray, bundle: Bundle, normalization: str) -> np.ndarray:
    """Standardized network inputs (profiles x all landmarks) from the measured landmark block L (profiles x present).

    quantile: each profile's landmarks are first mapped onto the training landmark distribution by rank (ties averaged,
    as the workflow's quantile normalization); none: L is already on the training scale. Absent landmarks get the
    training mean (0 after standardization). For many blocks, build one InputPreparer and call it per block.
    """
    return InputPreparer(present, bundle, normalization)(L)


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
                # to expression units while the batch is in cache: y * std, then + mean, each rounded to float32
                if isinstance(cols, slice):
                    dest = np.multiply(fn(z), self.std[cols], out=out[s : s + len(z), cols])
                    dest += self.mean[cols]
                else:
                    out[s : s + len(z), cols] = np.asarray(fn(z)) * self.std[cols] + self.mean[cols]
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
