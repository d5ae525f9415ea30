"""Readers of the small tables that rules hand to each other, each checked, so every consumer reads them alike.

dedup/geo_profiles.tsv (sample, kept), splits/assignment.tsv (sample, split), partitions/targets.tsv (gene, part),
qnorm/reference.tsv (rank, value), standardized/<dataset>_gene_stats.tsv (gene, role, mean, std),
evaluation/<method>/<split>.tsv (gene, mae, pearson), models/dgex/<arch>/part<p>/history.tsv (epoch, <split>_mae),
models/<method>/solution.json (how a baseline was solved) and models/lr/model.npz (the LR baseline).
Ids are read as strings: a sample id like 007 stays 007.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from .io import InputError
from .layout import GEO_SPLITS

PER_GENE_COLUMNS = ("gene", "mae", "pearson")


def read_table(path: str | os.PathLike, columns: tuple[str, ...], what: str, ids: tuple[str, ...] = (),
               **read_options) -> pd.DataFrame:
    """A tab-separated table with at least `columns` (the `ids` columns as strings); errors name the file and `what`."""
    path = Path(path)
    try:
        df = pd.read_csv(path, sep="\t", dtype={c: str for c in ids}, **read_options)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputError(f"{path}: cannot read the {what}: {exc}") from exc
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputError(f"{path}: {what} lacks column(s) {missing} (has {list(df.columns)})")
    return df


def read_kept_profiles(path: str | os.PathLike) -> list[str]:
    """The GEO profiles that deduplication kept, in file order."""
    df = read_table(path, ("sample", "kept"), "deduplication table", ids=("sample",))
    return df.loc[df["kept"] == 1, "sample"].tolist()


def read_assignment(path: str | os.PathLike) -> pd.DataFrame:
    """The GEO split assignment (sample, split) in its shuffled order; every sample once, every split a GEO split."""
    df = read_table(path, ("sample", "split"), "split assignment", ids=("sample",))
    unknown = sorted(set(df["split"]) - set(GEO_SPLITS))
    if unknown:
        raise InputError(f"{path}: unknown split(s) {unknown} in the split assignment (expected {list(GEO_SPLITS)})")
    if df["sample"].duplicated().any():
        raise InputError(f"{path}: sample {df.loc[df['sample'].duplicated(), 'sample'].iloc[0]!r} is assigned twice")
    return df


def split_samples(assignment: pd.DataFrame, split: str) -> list[str]:
    """The samples of one GEO split, in assignment order."""
    return assignment.loc[assignment["split"] == split, "sample"].tolist()


def read_partition(path: str | os.PathLike) -> pd.DataFrame:
    """The target partition (gene, part): which network infers each target gene."""
    df = read_table(path, ("gene", "part"), "target partition", ids=("gene",))
    if not pd.api.types.is_integer_dtype(df["part"]):
        raise InputError(f"{path}: target partition column 'part' must hold whole numbers")
    return df


def part_genes(partition: pd.DataFrame, part: int) -> list[str]:
    """The target genes of one part, in partition order."""
    return partition.loc[partition["part"] == part, "gene"].tolist()


def read_reference(path: str | os.PathLike) -> np.ndarray:
    """The quantile-normalization reference distribution (ascending values, float64)."""
    return read_table(path, ("rank", "value"), "quantile reference")["value"].to_numpy(np.float64)


def read_gene_stats(path: str | os.PathLike) -> pd.DataFrame:
    """Per-gene standardization statistics (gene, role landmark|target, mean, std), landmarks first."""
    return read_table(path, ("gene", "role", "mean", "std"), "gene statistics", ids=("gene",))


def gene_set_size(path: str | os.PathLike) -> tuple[int, int]:
    """(landmarks, targets) of a run, from its standardized/geo_gene_stats.tsv (columns gene, role)."""
    role = read_table(path, ("gene", "role"), "gene roles (columns gene, role)")["role"]
    return int((role == "landmark").sum()), int((role == "target").sum())


def read_solution(path: str | os.PathLike) -> tuple[str, bool, str]:
    """(method, min_norm, reason) of a baseline's solution record (models/<method>/solution.json)."""
    try:
        rec = json.loads(Path(path).read_text())
        return rec["method"], bool(rec["min_norm"]), rec["reason"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{path}: cannot read the baseline's solution record: {exc}") from exc


def read_linear_model(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    """The LR baseline (models/lr/model.npz): slopes W (landmarks x targets), intercepts b, landmark and target genes."""
    try:
        with np.load(path, allow_pickle=False) as z:
            W, b = z["W"].astype(np.float32), z["b"].astype(np.float32)
            landmarks, targets = [str(g) for g in z["landmarks"]], [str(g) for g in z["targets"]]
    except (OSError, ValueError, KeyError) as exc:
        raise InputError(f"{path}: cannot read the linear model (arrays W, b, landmarks, targets): {exc}") from exc
    if W.shape != (len(landmarks), len(targets)) or b.shape != (len(targets),):
        raise InputError(f"{path}: linear model of shape W {W.shape}, b {b.shape} for {len(landmarks)} landmarks and "
                         f"{len(targets)} targets")
    return W, b, landmarks, targets


def read_per_gene(path: str | os.PathLike) -> pd.DataFrame:
    """One per-gene evaluation table (gene, mae, pearson): genes unique, every MAE finite."""
    df = read_table(path, PER_GENE_COLUMNS, "per-gene evaluation table", ids=("gene",))
    if df.empty:
        raise InputError(f"{path}: per-gene evaluation table has no genes")
    if df["gene"].duplicated().any():
        raise InputError(f"{path}: gene {df.loc[df['gene'].duplicated(), 'gene'].iloc[0]!r} is listed twice")
    if not np.isfinite(df["mae"].to_numpy(np.float64)).all():
        raise InputError(f"{path}: column mae has missing or non-finite values")
    return df


def read_linear_fits(path: str | os.PathLike) -> pd.DataFrame:
    """compare_linear_fits' per-target table (gene, adjusted R^2 on the hidden layer and on the landmarks; n/a as NaN)."""
    return read_table(path, ("gene", "adj_r2_hidden", "adj_r2_landmarks"), "linear fits table", ids=("gene",))


def read_major_weights(edges: str | os.PathLike, units: str | os.PathLike,
                       summary: str | os.PathLike) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """find_major_weights' tables: the major weights (source names as written), the hidden units, and its summary."""
    e = read_table(edges, ("layer", "source", "source_name"), "major weights table", ids=("source_name",),
                   keep_default_na=False)
    u = read_table(units, ("unit",), "hidden units table")
    try:
        s = json.loads(Path(summary).read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"{summary}: cannot read the major weights summary: {exc}") from exc
    return e, u, s


def read_history(path: str | os.PathLike) -> pd.DataFrame:
    """A D-GEX training history (epoch, learning_rate, train_monitor_mae, <split>_mae per evaluated split)."""
    return read_table(path, ("epoch",), "training history")
