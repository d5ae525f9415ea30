"""One tiny run with a grid of D-GEX architectures and every baseline, shared by the table, figure and regeneration tests."""
from __future__ import annotations

import subprocess
from pathlib import Path

import yaml
from helpers import REPO, run_snakemake, write_config

from dgex.layout import EVAL_SPLITS, TEST_SPLITS

RUN = "results/tiny"
# 2 layer counts x 2 unit counts x 2 dropout rates; one target part keeps it to 8 training jobs
GRID = {"dgex": {"layers": [1, 2], "units": [8, 16], "dropout": [0.0, 0.1]}, "partitions": {"method": "random", "n_parts": 1},
        "figures": {"dpi": 100, "colormap": "viridis"}, "tables": {"decimals": 4}}
FIGURES = ("architecture", "error_density", "scatter", "epochs")
# the tables and figures of this issue (the default target also builds other stages' outputs, not needed here)
TARGETS = ([f"{RUN}/tables/{t}.{ext}" for t in [f"summary_{s}" for s in TEST_SPLITS] + [f"dropout_{s}" for s in EVAL_SPLITS]
            + ["improvement", "pearson", "well_inferred"] for ext in ("tsv", "md", "html")]
           + [f"{RUN}/figures/{f}_{s}.{ext}" for f in FIGURES for s in TEST_SPLITS for ext in ("png", "svg")]
           + [f"{RUN}/figures/well_inferred.{ext}" for ext in ("png", "svg")])
_RUNS: dict[str, Path] = {}


def all_baselines() -> list[str]:
    """Every baseline the config schema allows (LR, LR-L1, LR-L2, KNN-GE as they land)."""
    return list(baseline_schema()["methods"]["items"].get("enum", ["lr"]))


def baseline_schema() -> dict:
    schema = yaml.safe_load((REPO / "schemas" / "config.schema.yaml").read_text())
    return schema["properties"]["baselines"]["properties"]


def grid_config() -> dict:
    """The tiny config's overrides: the architecture grid, every baseline, fixed figure and table settings."""
    baselines = {"methods": all_baselines()}
    if "knn_k" in baseline_schema():
        baselines["knn_k"] = [1, 3, 5]  # the tiny data has 20 landmarks
    return GRID | {"baselines": baselines}


def snakemake_on_targets(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run the workflow in `workdir` for this issue's tables and figures."""
    return run_snakemake(workdir, *args, *TARGETS, check=check)


def report_run(tmp_path_factory) -> Path:
    """The working directory of the complete grid run (made once per test session)."""
    if "grid" not in _RUNS:
        workdir = tmp_path_factory.mktemp("report_run")
        write_config(workdir, grid_config())
        snakemake_on_targets(workdir)
        _RUNS["grid"] = workdir
    return _RUNS["grid"]
