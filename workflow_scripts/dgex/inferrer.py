"""From landmark profiles to every target: the bundle's quantile normalization and standardization, then its networks."""
from __future__ import annotations

import numpy as np

from .bundle import Bundle
from .io import InputError
from .network import load_model
from .normalize import map_to_reference

NORMALIZATIONS = ("quantile", "none")


def interpolated_reference(reference: np.ndarray, n: int) -> np.ndarray:
    """The reference distribution at n evenly spaced quantiles (for profiles missing some landmarks)."""
    m = len(reference)
    if n == m:
        return reference
    return np.interp((np.arange(n) + 0.5) / n, (np.arange(m) + 0.5) / m, reference)


class RankMapper:
    """map_to_reference onto one fixed reference, block after block: one argsort per block, tie-free profiles by table.

    A profile without tied values maps its j-th smallest value to the same reference value under every ties rule; that
    table is map_to_reference's own answer for a tie-free profile, so the result is identical, and the few profiles
    with ties go through map_to_reference itself.
    """

    def __init__(self, reference: np.ndarray, ties: str = "average", microarray: bool = False):
        self.reference, self.ties, self.microarray = np.asarray(reference, dtype=np.float64), ties, microarray
        n = len(self.reference)
        self.table = map_to_reference(np.arange(n, dtype=np.float32)[None, :], self.reference, ties, microarray=microarray)[0]
        self._offsets = np.zeros(0, dtype=np.intp)

    def __call__(self, values: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Every profile (row) of `values` mapped onto the reference by rank, float32, into `out` if given."""
        m, n = values.shape
        if n != len(self.reference):
            raise ValueError(f"reference has {len(self.reference)} values but profiles have {n} genes")
        out = np.empty((m, n), dtype=np.float32) if out is None else out
        if not m:
            return out
        # the order within a run of ties changes no rule's result, so the fast (unstable, SIMD) argsort will do
        order = np.argsort(values, axis=1)
        srt = np.take_along_axis(values, order, axis=1)
        tied = np.flatnonzero((srt[:, 1:] == srt[:, :-1]).any(axis=1))
        if len(self._offsets) < m:
            self._offsets = np.arange(m, dtype=np.intp)[:, None] * n
        order += self._offsets[:m]
        np.put(out, order, self.table)  # out must be C-contiguous: flat positions; table repeats for every row
        if len(tied):
            out[tied] = map_to_reference(values[tied], self.reference, self.ties, microarray=self.microarray)
        return out


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
