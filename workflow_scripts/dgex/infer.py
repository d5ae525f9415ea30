"""Inferring the full transcriptome of L1000 profiles with trained D-GEX networks (paper section 3.4).

An inference bundle (a folder with manifest.json) ties together the networks of all target parts, the partition,
the landmarks with their L1000 ids, the GEO-tr standardization statistics and the landmark quantile reference.
`infer_gctx` streams a GCT(X) of landmark profiles through it in profile chunks and writes a GCTX with the measured
rows passed through and every target gene inferred; `main` is the `dgex-infer` command.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import pandas as pd

from .gctx import CMAP_NULL, GctxStream, GctxWriter, chunk_aligned
from .io import InputError, atomic_path, check_unique
from .sources import GeneMap

log = logging.getLogger("dgex.infer")

BUNDLE_FORMAT = "dgex-inference-bundle/1"
MANIFEST = "manifest.json"
ID_TYPES = ("auto", "probe", "entrez")
NORMALIZATIONS = ("quantile", "none")
MISSING_POLICIES = ("error", "mean")
PROBE_ID = re.compile(r"^\d+(_[a-z])*_at$")  # HG-U133A probe ids, as L1000 names its landmarks (200814_at, 218597_s_at)
ENTREZ_ID = re.compile(r"^\d+$")
ENSEMBL_ID = re.compile(r"^ENS[A-Z]*G\d+")
CHIP_COLUMNS = ("pr_id", "pr_type", "pr_gene_symbol", "pr_gene_id")
LANDMARK_COLUMNS = ("gene", "symbol", "probe_id", "entrez_id", "mean", "std")
TARGET_COLUMNS = ("gene", "symbol", "probe_ids", "part", "mean", "std")
DEFAULT_CHUNK = 10_000


# --------------------------------------------------------------------------- the L1000 chip
def read_chip(path: str | os.PathLike) -> pd.DataFrame:
    """The landmark rows (pr_type LM) of an L1000 chip file: probe_id, symbol, entrez_id (strings)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: L1000 chip file not found")
    try:
        chip = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: unreadable chip file ({type(exc).__name__}: {exc})") from exc
    missing = [c for c in CHIP_COLUMNS if c not in chip.columns]
    if missing:
        raise InputError(f"{path}: chip file lacks column(s) {missing}; expected the L1000 .chip layout with {list(CHIP_COLUMNS)}")
    lm = chip[chip["pr_type"] == "LM"]
    if lm.empty:
        raise InputError(f"{path}: no landmark rows (pr_type LM) in the chip file")
    out = pd.DataFrame({"probe_id": lm["pr_id"].str.strip(), "symbol": lm["pr_gene_symbol"].str.strip(),
                        "entrez_id": lm["pr_gene_id"].str.strip()}).reset_index(drop=True)
    check_unique(out["probe_id"].tolist(), f"{path}: landmark probe ids (pr_id)")
    check_unique(out["entrez_id"].tolist(), f"{path}: landmark Entrez ids (pr_gene_id)")
    bad = out.loc[~out["entrez_id"].str.fullmatch(r"\d+"), "probe_id"].tolist()
    if bad:
        raise InputError(f"{path}: {len(bad)} landmark row(s) have no numeric Entrez id (pr_gene_id), e.g. {bad[:5]}")
    return out


# --------------------------------------------------------------------------- bundles
@dataclass
class Bundle:
    """A loaded inference bundle (models are loaded by `Inferrer`)."""

    root: Path
    manifest: dict
    landmarks: pd.DataFrame  # model input order
    targets: pd.DataFrame  # output order
    reference: np.ndarray  # sorted landmark quantile reference, float64

    @property
    def architecture(self) -> str:
        return self.manifest["architecture"]

    @property
    def has_entrez(self) -> bool:
        return bool((self.landmarks["entrez_id"] != str(CMAP_NULL)).all())

    def part_files(self) -> dict[int, Path]:
        return {int(p["part"]): self.root / p["file"] for p in self.manifest["parts"]}


def _write_table(path: Path, df: pd.DataFrame) -> None:
    with atomic_path(path) as tmp:
        df.to_csv(tmp, sep="\t", index=False, float_format="%.9g", lineterminator="\n")


def write_bundle(out_dir: str | os.PathLike, *, architecture: str, criterion: str, models: dict[int, str | os.PathLike],
                 partition: pd.DataFrame, stats: pd.DataFrame, reference: np.ndarray, landmark_map: GeneMap,
                 chip: pd.DataFrame | None = None, target_map: GeneMap | None = None, ties: str = "average",
                 source: str = "") -> Path:
    """Check that the parts fit together and write the bundle folder; return the manifest's path.

    stats: gene, role (landmark|target), mean, std in the training matrices' gene order (landmarks first);
    partition: gene, part; landmark_map: symbol, Ensembl id and probe id of each landmark; chip: `read_chip` output.
    """
    from .dgex_model import load_model
    from .provenance import sha256_file

    out = Path(out_dir)
    lm = stats[stats["role"] == "landmark"].reset_index(drop=True)
    tg = stats[stats["role"] == "target"].reset_index(drop=True)
    if lm.empty or tg.empty:
        raise InputError("gene statistics: need landmark and target rows (column role)")
    by_ens = {e: (s, p[0] if p else str(CMAP_NULL)) for s, e, p in zip(landmark_map.symbols, landmark_map.ensembl, landmark_map.probes)}
    unmapped = [g for g in lm["gene"] if g not in by_ens]
    if unmapped:
        raise InputError(f"landmark map: {len(unmapped)} of the model's landmarks are not in it, e.g. {unmapped[:5]}")
    landmarks = pd.DataFrame({"gene": lm["gene"], "symbol": [by_ens[g][0] for g in lm["gene"]],
                              "probe_id": [by_ens[g][1] for g in lm["gene"]]})
    if chip is not None:
        entrez = dict(zip(chip["probe_id"], chip["entrez_id"]))
        absent = landmarks.loc[~landmarks["probe_id"].isin(entrez.keys())]
        if len(absent):
            names = [f"{s} ({p})" for s, p in zip(absent["symbol"], absent["probe_id"])]
            raise InputError(f"the model was trained on a different landmark set: {len(absent)} of its {len(landmarks)} landmarks "
                             f"are not L1000 landmarks (pr_type LM) of the chip, e.g. {names[:8]}")
        landmarks["entrez_id"] = landmarks["probe_id"].map(entrez)
    else:
        landmarks["entrez_id"] = str(CMAP_NULL)
    landmarks["mean"], landmarks["std"] = lm["mean"].to_numpy(float), lm["std"].to_numpy(float)
    part_of = dict(zip(partition["gene"].astype(str), partition["part"].astype(int)))
    no_part = [g for g in tg["gene"] if g not in part_of]
    if no_part or len(part_of) != len(tg):
        raise InputError(f"partition: {len(no_part)} target(s) have no part and it lists {len(part_of)} genes for {len(tg)} targets")
    tmap = dict(zip(target_map.ensembl, zip(target_map.symbols, target_map.probes))) if target_map is not None else {}
    targets = pd.DataFrame({"gene": tg["gene"], "symbol": [tmap.get(g, (str(CMAP_NULL),))[0] for g in tg["gene"]],
                            "probe_ids": [",".join(tmap[g][1]) if g in tmap else str(CMAP_NULL) for g in tg["gene"]],
                            "part": [part_of[g] for g in tg["gene"]], "mean": tg["mean"].to_numpy(float),
                            "std": tg["std"].to_numpy(float)})
    # grouped by part (stable), so each network fills one contiguous block of output rows
    targets = targets.iloc[np.argsort(targets["part"].to_numpy(), kind="stable")].reset_index(drop=True)
    if not np.all(np.isfinite(targets[["mean", "std"]].to_numpy())) or (targets["std"] <= 0).any() or (landmarks["std"] <= 0).any():
        raise InputError("gene statistics: means must be finite and standard deviations positive")
    reference = np.asarray(reference, dtype=np.float64)
    if reference.shape != (len(landmarks),) or not np.isfinite(reference).all() or np.any(np.diff(reference) < 0):
        raise InputError(f"landmark quantile reference: need {len(landmarks)} finite ascending values, got shape {reference.shape}")
    if sorted(models) != sorted(targets["part"].unique()):
        raise InputError(f"models for parts {sorted(models)} but the partition has parts {sorted(targets['part'].unique())}")
    parts = []
    for p in sorted(models):
        model = load_model(models[p])
        n_in, n_out = model.input_shape[-1], model.output_shape[-1]
        n_part = int((targets["part"] == p).sum())
        if n_in != len(landmarks):
            raise InputError(f"{models[p]}: the network takes {n_in} inputs but there are {len(landmarks)} landmarks: "
                             "it was trained on a different landmark set")
        if n_out != n_part:
            raise InputError(f"{models[p]}: the network predicts {n_out} targets but part {p} of the partition has {n_part}")
        name = f"part{p}.keras"
        with atomic_path(out / name) as tmp:
            shutil.copyfile(models[p], tmp)
        parts.append({"part": p, "file": name, "n_targets": n_part, "sha256": sha256_file(out / name)})
    _write_table(out / "landmarks.tsv", landmarks[list(LANDMARK_COLUMNS)])
    _write_table(out / "targets.tsv", targets[list(TARGET_COLUMNS)])
    _write_table(out / "reference.tsv", pd.DataFrame({"rank": np.arange(1, len(reference) + 1), "value": reference}))
    manifest = {
        "format": BUNDLE_FORMAT,
        "architecture": architecture,
        "criterion": criterion,
        "quantile_ties": ties,
        "n_landmarks": len(landmarks),
        "n_targets": len(targets),
        "units": "inferred targets: the training data's quantile-normalized log2 expression (standardization undone)",
        "source": source,
        "parts": parts,
        "files": {n: sha256_file(out / n) for n in ("landmarks.tsv", "targets.tsv", "reference.tsv")},
    }
    with atomic_path(out / MANIFEST) as tmp:
        tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return out / MANIFEST


def load_bundle(path: str | os.PathLike, verify: bool = True) -> Bundle:
    """Read a bundle (its folder or manifest.json); check its format, file hashes and tables."""
    from .provenance import sha256_file

    path = Path(path)
    manifest_path = path / MANIFEST if path.is_dir() else path
    if not manifest_path.exists():
        raise InputError(f"{manifest_path}: inference bundle manifest not found")
    try:
        manifest = json.loads(manifest_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{manifest_path}: not a JSON manifest ({exc})") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
        raise InputError(f"{manifest_path}: not a D-GEX inference bundle (format {manifest.get('format') if isinstance(manifest, dict) else None!r}, "
                         f"expected {BUNDLE_FORMAT!r})")
    root = manifest_path.parent
    files = dict(manifest["files"]) | {p["file"]: p["sha256"] for p in manifest["parts"]}
    for name, digest in files.items():
        f = root / name
        if not f.exists():
            raise InputError(f"{f}: file of the inference bundle is missing")
        if verify and sha256_file(f) != digest:
            raise InputError(f"{f}: file changed since the bundle was written (sha256 mismatch)")
    read = lambda n: pd.read_csv(root / n, sep="\t", dtype={"gene": str, "symbol": str, "probe_id": str, "entrez_id": str,  # noqa: E731
                                                            "probe_ids": str}, keep_default_na=False)
    landmarks, targets = read("landmarks.tsv"), read("targets.tsv")
    reference = read("reference.tsv")["value"].to_numpy(np.float64)
    if len(landmarks) != manifest["n_landmarks"] or len(targets) != manifest["n_targets"] or len(reference) != len(landmarks):
        raise InputError(f"{manifest_path}: tables do not match the manifest's landmark/target counts")
    return Bundle(root, manifest, landmarks, targets, reference)


# --------------------------------------------------------------------------- ids
def describe_ids(ids: Sequence[str]) -> str:
    """What a list of row ids looks like, for error messages."""
    ids = [str(i) for i in ids]
    kinds = {"L1000/HG-U133A probe ids": PROBE_ID, "Entrez ids": ENTREZ_ID, "Ensembl ids": ENSEMBL_ID}
    counts = {k: sum(bool(rx.match(i)) for i in ids) for k, rx in kinds.items()}
    kind, n = max(counts.items(), key=lambda kv: kv[1])
    if n < len(ids) / 2:
        kind = "gene symbols or other names" if all(re.fullmatch(r"[A-Za-z][A-Za-z0-9.\-]*", i) for i in ids[:50]) else "unrecognized ids"
    return f"{kind} (e.g. {ids[:3]})"


def match_landmarks(rids: Sequence[str], bundle: Bundle, id_type: str = "auto", source: str = "input") -> tuple[np.ndarray, str]:
    """Row index of each of the bundle's landmarks in `rids` (-1 where absent), and the id type used."""
    if id_type not in ID_TYPES:
        raise InputError(f"id type must be one of {ID_TYPES}, got {id_type!r}")
    index = {str(r).strip(): i for i, r in enumerate(rids)}
    keys = {"probe": bundle.landmarks["probe_id"].tolist(), "entrez": bundle.landmarks["entrez_id"].tolist()}
    if not bundle.has_entrez:
        keys["entrez"] = []
    hits = {k: sum(v in index for v in ids) for k, ids in keys.items()}
    example = {"probe": f"probe ids (e.g. {keys['probe'][:2]})", "entrez": f"Entrez ids (e.g. {keys['entrez'][:2]})"}
    if id_type == "auto":
        id_type = max(hits, key=hits.get)
        if hits[id_type] == 0:
            raise InputError(f"{source}: none of its {len(rids)} row ids is a landmark of the model: the rows are {describe_ids(rids)}, "
                             f"the model's landmarks are {example['probe']} or {example['entrez'] if keys['entrez'] else 'no Entrez ids'}; "
                             "either the ids are of the wrong kind or the model was trained on a different landmark set")
    elif id_type == "entrez" and not keys["entrez"]:
        raise InputError(f"{source}: id type 'entrez' needs a bundle built with an L1000 chip file (this one has no Entrez ids)")
    elif hits[id_type] == 0:
        other = "entrez" if id_type == "probe" else "probe"
        hint = f"; they match as {other} ids: use id type '{other}' or 'auto'" if hits.get(other) else ""
        raise InputError(f"{source}: id type is '{id_type}' but no row id is one of the model's landmark {example[id_type]}; "
                         f"the rows are {describe_ids(rids)}{hint}")
    idx = np.array([index.get(k, -1) for k in keys[id_type]], dtype=np.int64)
    return idx, id_type


def describe_landmarks(bundle: Bundle, which: np.ndarray, limit: int = 12) -> str:
    """'SYMBOL (probe, Entrez)' of the bundle's landmarks at the given indices."""
    lm = bundle.landmarks.iloc[which[:limit]]
    names = [f"{s} ({p}, Entrez {e})" for s, p, e in zip(lm["symbol"], lm["probe_id"], lm["entrez_id"])]
    more = f" and {len(which) - limit} more" if len(which) > limit else ""
    return ", ".join(names) + more


# --------------------------------------------------------------------------- normalization and the networks
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
    from .normalize import map_to_reference

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

        from .dgex_model import load_model

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
                raise InputError(f"{f}: network shape {model.input_shape[-1]} -> {model.output_shape[-1]} does not fit the bundle's "
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


# --------------------------------------------------------------------------- inference on a file
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


def output_row_meta(src: GctxStream, bundle: Bundle, idx: np.ndarray) -> tuple[list[str], pd.DataFrame]:
    """Row ids and metadata of the output: the input's rows (measured, their metadata kept), then the inferred targets."""
    meta_in = src.row_meta.reset_index(drop=True).copy()
    meta_in.columns = [str(c) for c in meta_in.columns]
    used = np.zeros(len(src.rids), dtype=bool)
    used[idx[idx >= 0]] = True
    lm_of_row = np.full(len(src.rids), -1)
    lm_of_row[idx[idx >= 0]] = np.flatnonzero(idx >= 0)
    lm, tg = bundle.landmarks, bundle.targets
    n_in, n_tg = len(src.rids), len(tg)

    def from_bundle(col: str) -> list[str]:
        values = np.append(lm[col].astype(str).to_numpy(object), str(CMAP_NULL))
        return values[lm_of_row].tolist()  # index -1: the placeholder

    dgex = pd.DataFrame({
        "dgex_status": ["measured"] * n_in + ["inferred"] * n_tg,
        "dgex_model_input": np.concatenate([used.astype(np.int64), np.zeros(n_tg, np.int64)]),
        "dgex_ensembl_id": from_bundle("gene") + tg["gene"].tolist(),
        "dgex_symbol": from_bundle("symbol") + tg["symbol"].tolist(),
        "dgex_probe_id": from_bundle("probe_id") + tg["probe_ids"].tolist(),
        "dgex_entrez_id": from_bundle("entrez_id") + [str(CMAP_NULL)] * n_tg,
        "dgex_part": np.concatenate([np.full(n_in, CMAP_NULL), tg["part"].to_numpy(np.int64)]),
    })
    filler = {}
    for c in meta_in.columns:
        if c in dgex.columns or c == "id":
            continue
        col = meta_in[c]
        fill = CMAP_NULL if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col) else str(CMAP_NULL)
        filler[c] = pd.concat([col if fill == CMAP_NULL else col.astype(str), pd.Series([fill] * n_tg)], ignore_index=True)
    if "pr_gene_symbol" in filler:  # the L1000 field, filled for inferred rows too
        filler["pr_gene_symbol"].iloc[n_in:] = tg["symbol"].to_numpy()
    rids = list(src.rids) + tg["gene"].tolist()
    clash = set(src.rids) & set(tg["gene"])
    if clash:
        raise InputError(f"{src.path}: row ids {sorted(clash)[:5]} are also target genes' Ensembl ids; give landmark probe or Entrez ids")
    return rids, pd.concat([pd.DataFrame(filler), dgex], axis=1)


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
    median = float(np.median(first)) if first.size else 0.0
    if zscored or median < 2.0:
        why = f"provenance_code {codes[0]!r} includes a z-scoring step" if zscored else f"its median value is {median:.2f}"
        log.warning("%s looks like L1000 Level 4/5 z-scores (%s), not Level 3 log2 expression; D-GEX was trained on expression, "
                    "so inferred values of such input are not expression estimates (normalization=%s)", src.path, why, normalization)


def infer_gctx(input_path: str | os.PathLike, bundle: Bundle | str | os.PathLike, output_path: str | os.PathLike,
               settings: InferenceSettings | None = None, inferrer: Inferrer | None = None) -> InferenceReport:
    """Infer every target gene of every profile in `input_path` and write them, after the measured rows, to `output_path`."""
    t0 = time.time()
    s = settings or InferenceSettings()
    bundle = bundle if isinstance(bundle, Bundle) else load_bundle(bundle)
    output_path = Path(output_path)
    if output_path.suffix == ".gct":
        raise InputError(f"{output_path}: the output is written as GCTX (HDF5); name it .gctx")
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
                             f"max_missing={s.max_missing} that may be imputed; is the model trained on a different landmark set?")
        log.warning("%s: imputing %d missing landmark(s) with the training mean: %s", src.path, len(missing), names)
    rids, row_meta = output_row_meta(src, bundle, idx)
    inferrer = inferrer or Inferrer(bundle)
    report = InferenceReport(src.n_profiles, len(src.rids), len(bundle.targets), id_type,
                             bundle.landmarks["symbol"].iloc[missing].tolist(), int(len(src.rids) - present.sum()))
    # write whole output chunks when compressing (chunk size a multiple of the HDF5 chunk)
    chunk = s.chunk_size
    with atomic_path(output_path) as tmp:
        w = GctxWriter(tmp, rids, row_meta, src.n_profiles, s.compression, src=output_path.name)
        try:
            if s.compression:
                chunk = chunk_aligned(chunk, w.dset.chunks)
            for start, block in src.blocks(chunk):
                L = block[:, idx[present]]
                check_block(L, start, src, bundle, present)
                if start == 0:
                    warn_if_not_level3(src, L, s.normalization)
                out = np.empty((len(block), len(rids)), dtype=np.float32)
                out[:, : block.shape[1]] = block
                inferrer(model_inputs(L, present, bundle, s.normalization), out[:, block.shape[1] :])
                w.write(start, out)
                log.info("profiles %d..%d of %d inferred", start + 1, start + len(block), src.n_profiles)
            src.copy_col_meta(w.meta)
            w.f.attrs["dgex_architecture"] = bundle.architecture
            w.f.attrs["dgex_normalization"] = s.normalization
            w.f.attrs["dgex_id_type"] = id_type
            w.f.attrs["dgex_imputed_landmarks"] = ",".join(report.imputed_landmarks)
        finally:
            w.close()
    report.seconds = round(time.time() - t0, 3)
    return report


# --------------------------------------------------------------------------- demo L1000 data
def demo_chip(landmark_map: GeneMap, extra_probes: Sequence[str], rng: np.random.Generator) -> pd.DataFrame:
    """An L1000-style chip for demo data: the model's landmarks plus extra landmarks the model does not use, and controls."""
    probes = [p[0] for p in landmark_map.probes] + list(extra_probes)
    symbols = list(landmark_map.symbols) + [f"XLM{i + 1}" for i in range(len(extra_probes))]
    order = rng.permutation(len(probes))
    entrez = rng.choice(np.arange(1, 200_000), len(probes), replace=False)
    rows = [{"idt_id": CMAP_NULL, "idt_name": CMAP_NULL, "pr_type": "INV", "pr_analyte_id": f"Analyte {i + 1}",
             "pr_analyte_num": i + 1, "pr_bset_id": "dp52", "pr_lua_id": CMAP_NULL, "pr_id": f"CAL{i + 1:02d}",
             "pr_pool_id": "demo", "pr_gene_symbol": CMAP_NULL, "pr_gene_id": CMAP_NULL, "pr_gene_title": CMAP_NULL}
            for i in range(2)]
    for k, i in enumerate(order):
        rows.append({"idt_id": f"DEMO{k:04d}", "idt_name": f"{symbols[i]}(LUA-{k})", "pr_type": "LM",
                     "pr_analyte_id": f"Analyte {k // 2 + 11}", "pr_analyte_num": k // 2 + 11, "pr_bset_id": f"dp5{2 + k % 2}",
                     "pr_lua_id": f"LUA-{k}", "pr_id": probes[i], "pr_pool_id": "demo", "pr_gene_symbol": symbols[i],
                     "pr_gene_id": int(entrez[i]), "pr_gene_title": f"demo gene {symbols[i]}"})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- command line
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dgex-infer", description=(
        "Infer all D-GEX target genes of L1000 landmark profiles. INPUT is a GCTX (or GCT) whose rows are L1000 landmark "
        "probe ids or Entrez ids and whose columns are profiles; OUTPUT is a GCTX with the measured rows passed through "
        "and one inferred row per target gene (row metadata dgex_status: measured | inferred)."))
    p.add_argument("input", help="GCTX/GCT of landmark profiles (L1000 Level 3)")
    p.add_argument("output", help="GCTX to write")
    p.add_argument("--bundle", required=True, help="inference bundle: its folder or manifest.json (results/<run>/bundles/<arch>/)")
    p.add_argument("--id-type", choices=ID_TYPES, default="auto", help="what the input's row ids are (default: auto)")
    p.add_argument("--normalization", choices=NORMALIZATIONS, default="quantile",
                   help="quantile: map each profile's landmarks onto the training distribution (default); none: input is on the training scale")
    p.add_argument("--missing-landmarks", choices=MISSING_POLICIES, default="error",
                   help="error (default) or mean: impute absent landmarks with the training mean")
    p.add_argument("--max-missing", type=int, default=20, help="most landmarks that may be imputed (default 20)")
    p.add_argument("--chunk-size", type=int, default=DEFAULT_CHUNK, help=f"profiles per block (default {DEFAULT_CHUNK})")
    p.add_argument("--compression", type=int, default=0, help="gzip level of the output matrix, 0 (default) for none")
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
        report = infer_gctx(args.input, args.bundle, args.output, settings)
    except InputError as exc:
        print(f"dgex-infer: error: {exc}", file=sys.stderr)
        return 2
    log.info("wrote %s: %d profiles, %d measured + %d inferred rows in %.1f s", args.output, report.n_profiles,
             report.n_measured_rows, report.n_inferred_rows, report.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
