"""Inference bundles: a folder (manifest.json) tying the networks of all target parts to the partition, the landmarks with
their L1000 ids, the GEO-tr standardization statistics and the landmark quantile reference; written and checked here."""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from .gctx import CMAP_NULL
from .io import InputError, atomic_path, write_tsv
from .provenance import sha256_file
from .sources import GeneMap

BUNDLE_FORMAT = "dgex-inference-bundle/1"
MANIFEST = "manifest.json"
LANDMARK_COLUMNS = ("gene", "symbol", "probe_id", "entrez_id", "mean", "std")
TARGET_COLUMNS = ("gene", "symbol", "probe_ids", "part", "mean", "std")
RELIABILITY = "reliability.tsv"  # per method and target: held-out accuracy (dgex.target_reliability fields)
LINEAR_MODEL = "lr.npz"  # the LR baseline (models/lr/model.npz), served by dgex-infer --method lr
ROW_ORDER = "rows.tsv"  # probe-level bundles: the output's rows (the compendium's probes), landmarks included


@dataclass
class Bundle:
    """A loaded inference bundle (models are loaded by `Inferrer`)."""

    root: Path
    manifest: dict
    landmarks: pd.DataFrame  # model input order
    targets: pd.DataFrame  # output order
    reference: np.ndarray  # sorted landmark quantile reference, float64
    reliability: pd.DataFrame | None = None  # method, gene, reliability fields; None in bundles written before them
    rows: pd.DataFrame | None = None  # output row order (row_id, role) of a probe-level bundle; None: input rows, then targets

    @property
    def architecture(self) -> str:
        return self.manifest["architecture"]

    @property
    def has_entrez(self) -> bool:
        return bool((self.landmarks["entrez_id"] != str(CMAP_NULL)).all())

    def part_files(self) -> dict[int, Path]:
        return {int(p["part"]): self.root / p["file"] for p in self.manifest["parts"]}

    @property
    def methods(self) -> list[str]:
        """The methods the bundle serves: dgex (its networks), and lr when it holds the LR baseline."""
        return list(self.manifest.get("methods", ["dgex"]))

    def require(self, method: str) -> None:
        """InputError unless the bundle serves `method`."""
        if method not in self.methods:
            raise InputError(f"{self.root}: the bundle holds no {method.upper()} model (methods: {', '.join(self.methods)}); "
                             "write it from a run whose baselines.methods include lr, or use method dgex")

    def reliability_of(self, method: str) -> pd.DataFrame | None:
        """gene and reliability fields of `method` in output (target) order; None when the bundle records none."""
        if self.reliability is None:
            return None
        t = self.reliability[self.reliability["method"] == method].drop(columns="method").set_index("gene")
        return t.loc[self.targets["gene"]].reset_index()


def check_reliability(reliability: dict[str, pd.DataFrame], methods: list[str], targets: pd.DataFrame) -> pd.DataFrame:
    """The bundle's reliability table (method, gene, fields) for every method, each covering every target exactly."""
    from .target_reliability import reliability_fields

    if sorted(reliability) != sorted(methods):
        raise InputError(f"reliability: recorded for methods {sorted(reliability)}, but the bundle serves {methods}")
    frames = []
    fields_of = {m: [c for c in t.columns if c != "gene"] for m, t in reliability.items()}
    if len({tuple(f) for f in fields_of.values()}) > 1:
        raise InputError(f"reliability: every method needs the same fields, got {fields_of}")
    for method in methods:
        t = reliability[method]
        fields = fields_of[method]
        if "test_mae" not in fields or "test_r" not in fields or set(fields) - set(reliability_fields(["geo_te", "gtex_te"])):
            raise InputError(f"reliability of {method}: fields {fields}; need test_mae, test_r (and optionally gtex_mae, "
                             "gtex_r)")
        if t["gene"].duplicated().any() or set(t["gene"]) != set(targets["gene"]):
            raise InputError(f"reliability of {method}: its genes are not the bundle's {len(targets)} targets, each once")
        frames.append(t.set_index("gene").loc[targets["gene"]].reset_index().assign(method=method))
    out = pd.concat(frames, ignore_index=True)
    return out[["method"] + [c for c in out.columns if c != "method"]]


def check_linear_model(path: str | os.PathLike, landmarks: pd.DataFrame, targets: pd.DataFrame) -> None:
    """InputError unless the LR model at `path` maps the bundle's landmarks (in model input order) to its targets."""
    from .artifacts import read_linear_model

    _, _, lm, tg = read_linear_model(path)
    if lm != landmarks["gene"].tolist():
        raise InputError(f"{path}: the linear model's landmarks are not the networks' (in their order)")
    if len(tg) != len(targets) or set(tg) != set(targets["gene"]):
        raise InputError(f"{path}: the linear model predicts {len(tg)} targets, not the bundle's {len(targets)}")


def write_bundle(out_dir: str | os.PathLike, *, architecture: str, criterion: str, models: dict[int, str | os.PathLike],
                 partition: pd.DataFrame, stats: pd.DataFrame, reference: np.ndarray, landmark_map: GeneMap,
                 chip: pd.DataFrame | None = None, target_map: GeneMap | None = None, ties: str = "average",
                 source: str = "", reliability: dict[str, pd.DataFrame] | None = None,
                 linear_model: str | os.PathLike | None = None, reliability_sources: dict[str, str] | None = None,
                 row_order: Sequence[str] | None = None) -> Path:
    """Check that the parts fit together and write the bundle folder; return the manifest's path.

    stats: gene, role (landmark|target), mean, std in the training matrices' gene order (landmarks first);
    partition: gene, part; landmark_map: symbol, Ensembl id and probe id of each landmark; chip: `read_chip` output;
    linear_model: the LR baseline's model.npz, served as method lr; reliability: method -> gene and reliability fields
    (dgex.target_reliability) of every target, for dgex and (with linear_model) lr; reliability_sources: where they come from.
    row_order: the output's rows of a probe-level model (dgex.probes), every landmark and target exactly once.
    """
    from .network import load_model  # here, not at the top: reading a bundle (dgex.l1000) must not need Keras

    out = Path(out_dir)
    lm = stats[stats["role"] == "landmark"].reset_index(drop=True)
    tg = stats[stats["role"] == "target"].reset_index(drop=True)
    if lm.empty or tg.empty:
        raise InputError("gene statistics: need landmark and target rows (column role)")
    by_ens = {e: (s, p[0] if p else str(CMAP_NULL))
              for s, e, p in zip(landmark_map.symbols, landmark_map.ensembl, landmark_map.probes)}
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
            raise InputError(f"the model was trained on a different landmark set: {len(absent)} of its "
                             f"{len(landmarks)} landmarks "
                             f"are not L1000 landmarks (pr_type LM) of the chip, e.g. {names[:8]}")
        landmarks["entrez_id"] = landmarks["probe_id"].map(entrez)
    else:
        landmarks["entrez_id"] = str(CMAP_NULL)
    landmarks["mean"], landmarks["std"] = lm["mean"].to_numpy(float), lm["std"].to_numpy(float)
    part_of = dict(zip(partition["gene"].astype(str), partition["part"].astype(int)))
    no_part = [g for g in tg["gene"] if g not in part_of]
    if no_part or len(part_of) != len(tg):
        raise InputError(f"partition: {len(no_part)} target(s) have no part and it lists {len(part_of)} genes for "
                         f"{len(tg)} targets")
    tmap = dict(zip(target_map.ensembl, zip(target_map.symbols, target_map.probes))) if target_map is not None else {}
    targets = pd.DataFrame({"gene": tg["gene"], "symbol": [tmap.get(g, (str(CMAP_NULL),))[0] for g in tg["gene"]],
                            "probe_ids": [",".join(tmap[g][1]) if g in tmap else str(CMAP_NULL) for g in tg["gene"]],
                            "part": [part_of[g] for g in tg["gene"]], "mean": tg["mean"].to_numpy(float),
                            "std": tg["std"].to_numpy(float)})
    # grouped by part (stable), so each network fills one contiguous block of output rows
    targets = targets.iloc[np.argsort(targets["part"].to_numpy(), kind="stable")].reset_index(drop=True)
    finite = np.all(np.isfinite(targets[["mean", "std"]].to_numpy()))
    if not finite or (targets["std"] <= 0).any() or (landmarks["std"] <= 0).any():
        raise InputError("gene statistics: means must be finite and standard deviations positive")
    reference = np.asarray(reference, dtype=np.float64)
    if reference.shape != (len(landmarks),) or not np.isfinite(reference).all() or np.any(np.diff(reference) < 0):
        raise InputError(f"landmark quantile reference: need {len(landmarks)} finite ascending values, got shape "
                         f"{reference.shape}")
    methods = ["dgex"] + (["lr"] if linear_model is not None else [])
    table = check_reliability(reliability, methods, targets) if reliability is not None else None
    if linear_model is not None:
        check_linear_model(linear_model, landmarks, targets)
    rows = check_row_order(row_order, landmarks["gene"], targets["gene"]) if row_order is not None else None
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
    write_tsv(out / "landmarks.tsv", landmarks[list(LANDMARK_COLUMNS)], float_format="%.9g")
    write_tsv(out / "targets.tsv", targets[list(TARGET_COLUMNS)], float_format="%.9g")
    write_tsv(out / "reference.tsv", pd.DataFrame({"rank": np.arange(1, len(reference) + 1), "value": reference}),
              float_format="%.9g")
    files = ["landmarks.tsv", "targets.tsv", "reference.tsv"]
    if table is not None:
        write_tsv(out / RELIABILITY, table, float_format="%.9g")
        files.append(RELIABILITY)
    if linear_model is not None:
        with atomic_path(out / LINEAR_MODEL) as tmp:
            shutil.copyfile(linear_model, tmp)
        files.append(LINEAR_MODEL)
    if rows is not None:
        write_tsv(out / ROW_ORDER, rows)
        files.append(ROW_ORDER)
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
        "methods": methods,
        "reliability_sources": dict(reliability_sources or {}),
        "files": {n: sha256_file(out / n) for n in files},
    }
    if rows is not None:
        manifest["row_order"] = ROW_ORDER
    with atomic_path(out / MANIFEST) as tmp:
        tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return out / MANIFEST


def load_bundle(path: str | os.PathLike, verify: bool = True) -> Bundle:
    """Read a bundle (its folder or manifest.json); check its format, file hashes and tables."""
    path = Path(path)
    manifest_path = path / MANIFEST if path.is_dir() else path
    if not manifest_path.exists():
        raise InputError(f"{manifest_path}: inference bundle manifest not found")
    try:
        manifest = json.loads(manifest_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{manifest_path}: not a JSON manifest ({exc})") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
        raise InputError(f"{manifest_path}: not a D-GEX inference bundle (format "
                         f"{manifest.get('format') if isinstance(manifest, dict) else None!r}, "
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
    reliability = None
    if RELIABILITY in manifest["files"]:  # NaN where a Pearson r is undefined (a constant gene)
        reliability = pd.read_csv(root / RELIABILITY, sep="\t", dtype={"method": str, "gene": str})
    rows = None
    if "row_order" in manifest:
        rows = pd.read_csv(root / manifest["row_order"], sep="\t", dtype=str, keep_default_na=False)
        check_row_order(rows["row_id"], landmarks["gene"], targets["gene"], str(root / manifest["row_order"]))
    return Bundle(root, manifest, landmarks, targets, reference, reliability, rows)


def check_row_order(row_order: Sequence[str], landmarks: Sequence[str], targets: Sequence[str],
                    what: str = "row order") -> pd.DataFrame:
    """The rows of a probe-level output (row_id, role), refused unless they hold every landmark and target exactly once."""
    rows = pd.DataFrame({"row_id": [str(r) for r in row_order]})
    lm, tg = set(landmarks), set(targets)
    dup = rows["row_id"][rows["row_id"].duplicated()].tolist()
    extra = sorted(set(rows["row_id"]) - lm - tg)
    absent = sorted((lm | tg) - set(rows["row_id"]))
    if dup or extra or absent or len(rows) != len(lm) + len(tg):
        raise InputError(f"{what}: must list every landmark and target once; {len(dup)} repeated (e.g. {dup[:3]}), "
                         f"{len(extra)} neither (e.g. {extra[:3]}), {len(absent)} absent (e.g. {absent[:3]})")
    rows["role"] = np.where(rows["row_id"].isin(lm), "landmark", "target")
    return rows
