"""Shared fixtures: a tiny working directory and one complete tiny run (the helpers they use are in helpers.py)."""
from __future__ import annotations

from pathlib import Path

import pytest
from helpers import run_snakemake, write_config


@pytest.fixture
def tiny_workdir(tmp_path: Path) -> Path:
    """A temporary working directory holding the tiny config."""
    write_config(tmp_path)
    return tmp_path


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """One complete run of the workflow on the tiny config, shared by the tests that only read its outputs.

    Snakemake's stderr is kept in snakemake.stderr beside the config.
    """
    workdir = tmp_path_factory.mktemp("tiny_run")
    write_config(workdir)
    (workdir / "snakemake.stderr").write_text(run_snakemake(workdir).stderr)
    return workdir
