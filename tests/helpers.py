"""Test helpers: repository paths, the real data mirror, the tiny config, a Snakemake runner, trained weights."""
from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("DGEX_SHARED_DATA", REPO.parent / "shared" / "data"))
SNAKEMAKE = [sys.executable, "-m", "snakemake"]

TINY = {
    "run_name": "tiny",
    "seed": 0,
    "data": {"source": "demo", "rnaseq": True,
             "demo": {"seed": 3, "n_landmarks": 20, "n_targets": 60, "n_shared_ensembl": 4, "n_extra_probes": 30,
                      "n_extra_genes": 10, "n_factors": 4, "n_geo": 300, "duplicate_fraction": 0.1,
                      "n_gtex": 40, "n_g1000": 30}},
    "dedup": {"n_clusters": 8},
    "partitions": {"method": "random", "n_parts": 2},
    "dgex": {"layers": [1], "units": [16], "dropout": [0.1], "epochs": 3, "learning_rate": 0.003, "monitor_size": 100},
}


def shared_file(*parts: str) -> Path:
    """A file of the real-data mirror (../shared/data), or skip the test with the reason."""
    p = SHARED_DATA.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"real data not available: {p} is absent (set DGEX_SHARED_DATA to the shared/data folder)")
    return p


def deep_update(base: dict, extra: dict) -> dict:
    """A copy of `base` with `extra` merged into it recursively."""
    out = copy.deepcopy(base)
    for k, v in extra.items():
        out[k] = deep_update(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else copy.deepcopy(v)
    return out


def write_config(workdir: Path, extra: dict | None = None) -> Path:
    """Write the tiny config (plus overrides) into `workdir`; return its path."""
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(deep_update(TINY, extra or {}), sort_keys=False))
    return path


def run_snakemake(workdir: Path, *args: str, check: bool = True, timeout: int = 900,
                  env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the repository's workflow in `workdir` with its config.yaml; return the finished process."""
    cmd = SNAKEMAKE + ["-s", str(REPO / "Snakefile"), "--directory", str(workdir), "--configfile", str(workdir / "config.yaml"),
                       "--cores", "2", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})})
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}")
    return proc


def trainer_weights(trainer) -> list:
    """The current trainable weights of a dgex.trainer.Trainer (kernel, bias per layer) as NumPy arrays."""
    import numpy as np

    return [np.array(v) for v in trainer.vars]

