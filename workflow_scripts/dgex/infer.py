"""Inferring the full transcriptome of L1000 profiles with trained D-GEX networks (paper section 3.4).

An inference bundle (a folder with manifest.json) ties together the networks of all target parts, the partition,
the landmarks with their L1000 ids, the GEO-tr standardization statistics and the landmark quantile reference.
`infer_gctx` streams a GCT(X) of landmark profiles through it in profile chunks and writes a GCTX with the measured
rows passed through and every target gene inferred; `main` is the `dgex-infer` command.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from .bundle import Bundle, load_bundle
from .gctx import CMAP_NULL, BlockWriter, GctxStream, GctxWriter, chunk_aligned
from .inferrer import METHODS, NORMALIZATIONS, Inferrer, InputPreparer, make_inferrer
from .io import InputError, atomic_path, remove_stale_temporaries
from .l1000 import ID_TYPES, describe_landmarks, match_landmarks
from .output_rows import output_rows
from .target_reliability import RULE_METRICS, WellInferredRule, reliability_meta

log = logging.getLogger("dgex.infer")

MISSING_POLICIES = ("error", "mean")
DEFAULT_CHUNK = 10_000


@dataclass
class InferenceSettings:
    """How input profiles are read and prepared."""

    id_type: str = "auto"
    normalization: str = "quantile"
    missing_landmarks: str = "error"
    max_missing: int = 20
    chunk_size: int = DEFAULT_CHUNK
    compression: int = 0

    def __post_init__(self):
        checks = [("id_type", self.id_type, ID_TYPES), ("normalization", self.normalization, NORMALIZATIONS),
                  ("missing_landmarks", self.missing_landmarks, MISSING_POLICIES)]
        for name, value, allowed in checks:
            if value not in allowed:
                raise InputError(f"inference.{name} must be one of {allowed}, got {value!r}")
        if self.chunk_size < 1 or self.max_missing < 0 or not (0 <= self.compression <= 9):
            raise InputError("inference: chunk_size must be >= 1, max_missing >= 0 and compression 0..9")


@dataclass
class InferenceReport:
    """What an inference run did."""

    n_profiles: int = 0
    n_measured_rows: int = 0
    n_inferred_rows: int = 0
    id_type: str = ""
    imputed_landmarks: list = field(default_factory=list)
    unused_rows: int = 0
    seconds: float = 0.0


def with_reliability(row_meta: pd.DataFrame, bundle: Bundle, method: str, rule: WellInferredRule,
                     target_rows: np.ndarray) -> pd.DataFrame:
    """Output row metadata with the method's held-out accuracy of each inferred target (dgex_test_mae, dgex_test_r, and
    GTEx-te's with RNA-Seq) and the dgex_well_inferred flag of `rule`; unchanged for a bundle that records none.
    target_rows: the output row of each bundle target."""
    table = bundle.reliability_of(method)
    if table is None:
        log.warning("%s: the bundle records no per-target reliability (written before it was added); the output has no "
                    "dgex_test_* fields or dgex_well_inferred flag", bundle.root)
        return row_meta
    meta = reliability_meta(table, rule, target_rows, len(row_meta))
    return pd.concat([row_meta, meta], axis=1)


def reliability_attrs(bundle: Bundle, method: str, rule: WellInferredRule) -> dict[str, str]:
    """File attributes of the output: the method that inferred it and (when the fields are written) the rule of the flag."""
    attrs = {"dgex_method": method}
    if bundle.reliability_of(method) is not None:
        attrs["dgex_well_inferred_rule"] = rule.describe()
        attrs["dgex_reliability_source"] = bundle.manifest.get("reliability_sources", {}).get(method, "")
    return attrs


def check_block(L: np.ndarray, start: int, src: GctxStream, bundle: Bundle, present: np.ndarray) -> None:
    """Raise InputError naming profiles and landmarks with -666 placeholders, NaN or Inf among the model's inputs."""
    bad_null = L == CMAP_NULL
    bad_nan = ~np.isfinite(L)
    for mask, what in ((bad_null, "-666 (CMap's placeholder for a missing value)"), (bad_nan, "NaN or Inf")):
        if mask.any():
            rows, cols = np.nonzero(mask)
            cids = src.cids(start + int(rows.min()), start + int(rows.max()) + 1)
            profiles = list(dict.fromkeys(cids[r - rows.min()] for r in rows))
            lms = np.flatnonzero(present)[np.unique(cols)]
            raise InputError(f"{src.path}: {int(mask.sum())} landmark value(s) are {what} in {len(profiles)} profile(s), "
                             f"e.g. {profiles[:5]}, at landmark(s) {describe_landmarks(bundle, lms, 5)}; "
                             "remove or repair those profiles (D-GEX needs every landmark measured)")


def warn_if_not_level3(src: GctxStream, first: np.ndarray, normalization: str) -> None:
    """Log a warning when the input looks like z-scores (L1000 Level 4/5) rather than Level 3 expression."""
    codes = src.col_field("provenance_code", 50) or []
    zscored = any("ZS" in c for c in codes)
    median = float(np.median(first[:1000])) if first.size else 0.0  # 1,000 profiles tell as well as a block
    if zscored or median < 2.0:
        why = f"provenance_code {codes[0]!r} includes a z-scoring step" if zscored else f"its median value is {median:.2f}"
        log.warning("%s looks like L1000 Level 4/5 z-scores (%s), not Level 3 log2 expression; D-GEX was trained on expression, "
                    "so inferred values of such input are not expression estimates (normalization=%s)", src.path, why,
                    normalization)


def check_output_path(output_path: str | os.PathLike, input_path: str | os.PathLike, bundle: str | os.PathLike) -> Path:
    """The output path, refused when it is not a .gctx file name in an existing folder or would replace an input.

    An output that is the input or a file of the bundle (same path, or the same file through a link) or lies inside
    the bundle's folder would overwrite what inference reads.
    """
    out = Path(output_path)
    bundle = Path(bundle)
    root = (bundle if bundle.is_dir() else bundle.parent).resolve()
    if out.resolve().is_relative_to(root):
        raise InputError(f"{out}: lies inside the inference bundle {root}; write the output elsewhere")
    if out.exists():
        bundle_files = [f for f in root.iterdir() if f.is_file()] if root.is_dir() else []
        for f in [Path(input_path), *bundle_files]:
            if f.exists() and os.path.samefile(out, f):
                what = "the input" if f == Path(input_path) else "a file of the inference bundle"
                raise InputError(f"{out}: is {what} ({f}, the same file); write the output elsewhere")
    if out.suffix.lower() != ".gctx":
        raise InputError(f"{out}: the output is written as GCTX (HDF5); give a file name ending in .gctx")
    if out.is_dir():
        raise InputError(f"{out}: the output is a folder; give a file name ending in .gctx")
    if not out.parent.is_dir():
        what = "is not a folder" if out.parent.exists() else "does not exist"
        raise InputError(f"{out.parent}: the output's folder {what}; create it first (dgex-infer creates no folders)")
    return out


def infer_gctx(input_path: str | os.PathLike, bundle: Bundle | str | os.PathLike, output_path: str | os.PathLike,
               settings: InferenceSettings | None = None, inferrer: Inferrer | None = None, method: str = "dgex",
               well_inferred: WellInferredRule | None = None, threaded_writer: bool = True) -> InferenceReport:
    """Infer every target gene of every profile in `input_path` and write them, after the measured rows, to `output_path`.

    method: dgex (the bundle's networks) or lr (its LR baseline); well_inferred: the rule of the dgex_well_inferred flag;
    threaded_writer=False writes each block before inferring the next (the same bytes, no overlap with the disk).
    """
    t0 = time.time()
    s = settings or InferenceSettings()
    rule = well_inferred or WellInferredRule()
    if method not in METHODS:
        raise InputError(f"method must be one of {METHODS}, got {method!r}")
    output_path = check_output_path(output_path, input_path, bundle.root if isinstance(bundle, Bundle) else bundle)
    bundle = bundle if isinstance(bundle, Bundle) else load_bundle(bundle)
    bundle.require(method)  # before anything is read
    src = GctxStream(input_path)
    idx, id_type = match_landmarks(src.rids, bundle, s.id_type, str(src.path))
    present = idx >= 0
    missing = np.flatnonzero(~present)
    if len(missing):
        names = describe_landmarks(bundle, missing)
        if s.missing_landmarks == "error":
            raise InputError(f"{src.path}: {len(missing)} of the model's {len(idx)} landmarks are missing: {names}. "
                             "Give profiles with every landmark, or opt in to imputing them with the training mean "
                             "(--missing-landmarks mean / inference.missing_landmarks: mean)")
        if len(missing) > s.max_missing:
            raise InputError(f"{src.path}: {len(missing)} of the model's {len(idx)} landmarks are missing ({names}), more than "
                             f"max_missing={s.max_missing} that may be imputed; is the model trained on a "
                             f"different landmark set?")
        log.warning("%s: imputing %d missing landmark(s) with the training mean: %s", src.path, len(missing), names)
    layout = output_rows(src, bundle, idx)
    row_meta = with_reliability(layout.meta, bundle, method, rule, layout.target_rows)
    inferrer = inferrer or make_inferrer(bundle, method)
    report = InferenceReport(src.n_profiles, len(src.rids), len(bundle.targets), id_type,
                             bundle.landmarks["symbol"].iloc[missing].tolist(), int(len(src.rids) - present.sum()))
    # write whole output chunks when compressing (chunk size a multiple of the HDF5 chunk)
    chunk = s.chunk_size
    remove_stale_temporaries([output_path], log, only_dead=True)
    with atomic_path(output_path) as tmp:
        w = GctxWriter(tmp, layout.rids, row_meta, src.n_profiles, s.compression, src=output_path.name)
        try:
            if s.compression:
                chunk = chunk_aligned(chunk, w.dset.chunks)
            prepare, cols = InputPreparer(present, bundle, s.normalization), idx[present]
            # the disk writes block i while block i + 1 is inferred
            with BlockWriter(w, (min(chunk, src.n_profiles), len(layout.rids)), threaded=threaded_writer) as writer:
                for start, block in src.blocks(chunk):
                    L = np.take(block, cols, axis=1)  # faster than block[:, cols] for a column gather
                    check_block(L, start, src, bundle, present)
                    if start == 0:
                        warn_if_not_level3(src, L, s.normalization)
                    out = writer.buffer()
                    layout.fill(block, prepare(L), inferrer, out[: len(block)])
                    writer.submit(start, out, len(block))
                    log.info("profiles %d..%d of %d inferred", start + 1, start + len(block), src.n_profiles)
            src.copy_col_meta(w.meta)
            w.f.attrs["dgex_architecture"] = bundle.architecture
            w.f.attrs["dgex_normalization"] = s.normalization
            w.f.attrs["dgex_id_type"] = id_type
            w.f.attrs["dgex_imputed_landmarks"] = ",".join(report.imputed_landmarks)
            w.f.attrs.update(reliability_attrs(bundle, method, rule))
            w.f.attrs.update(layout.attrs)
        finally:
            w.close()
    report.seconds = round(time.time() - t0, 3)
    return report


# --------------------------------------------------------------------------- command line
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dgex-infer", description=(
        "Infer all D-GEX target genes of L1000 landmark profiles. INPUT is a GCTX (or GCT) whose rows are L1000 landmark "
        "probe ids or Entrez ids and whose columns are profiles; OUTPUT is a GCTX with the measured rows passed through "
        "and one inferred row per target gene (row metadata dgex_status: measured | inferred)."))
    p.add_argument("input", help="GCTX/GCT of landmark profiles (L1000 Level 3)")
    p.add_argument("output", help="GCTX to write")
    p.add_argument("--bundle", required=True,
                   help="inference bundle: its folder or manifest.json (results/<run>/bundles/<arch>/)")
    p.add_argument("--id-type", choices=ID_TYPES, default="auto", help="what the input's row ids are (default: auto)")
    p.add_argument("--normalization", choices=NORMALIZATIONS, default="quantile",
                   help="quantile: map each profile's landmarks onto the training distribution (default); "
                        "none: input is on the training scale")
    p.add_argument("--missing-landmarks", choices=MISSING_POLICIES, default="error",
                   help="error (default) or mean: impute absent landmarks with the training mean")
    p.add_argument("--max-missing", type=int, default=20, help="most landmarks that may be imputed (default 20)")
    p.add_argument("--chunk-size", type=int, default=DEFAULT_CHUNK, help=f"profiles per block (default {DEFAULT_CHUNK})")
    p.add_argument("--compression", type=int, default=0, help="gzip level of the output matrix, 0 (default) for none")
    p.add_argument("--method", choices=METHODS, default="dgex",
                   help="dgex: the bundle's D-GEX networks (default); lr: its linear regression baseline (LINCS's method)")
    p.add_argument("--well-inferred-metric", choices=RULE_METRICS, default="test_r",
                   help="reliability field of the dgex_well_inferred flag (default test_r: Pearson r on GEO-te)")
    p.add_argument("--well-inferred-threshold", type=float, default=0.5,
                   help="a target is well inferred when its r is at least, or its MAE at most, this (default 0.5)")
    p.add_argument("--threads", type=int, default=0, help="TensorFlow threads (default: all cores)")
    p.add_argument("-q", "--quiet", action="store_true", help="log warnings only")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """The dgex-infer command; returns the exit status (2 for bad input, with the reason on stderr)."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        settings = InferenceSettings(args.id_type, args.normalization, args.missing_landmarks, args.max_missing,
                                     args.chunk_size, args.compression)
        if args.threads:
            import tensorflow as tf

            tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        try:
            rule = WellInferredRule(args.well_inferred_metric, args.well_inferred_threshold)
        except ValueError as exc:
            raise InputError(str(exc).replace("inference.well_inferred.", "--well-inferred-")) from exc
        report = infer_gctx(args.input, args.bundle, args.output, settings, method=args.method, well_inferred=rule)
    except InputError as exc:
        print(f"dgex-infer: error: {exc}", file=sys.stderr)
        return 2
    log.info("wrote %s: %d profiles, %d measured + %d inferred rows in %.1f s", args.output, report.n_profiles,
             report.n_measured_rows, report.n_inferred_rows, report.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
