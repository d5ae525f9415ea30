"""A checkpoint never outlives its data: after an upstream edit that keeps every shape, training starts afresh.

A finished tiny run, then `dedup.distance` edited (the near-duplicate GEO profiles stay: other training profiles, the
same landmarks, targets and network shapes) and the same command again, once straight through and once SIGKILLed in
the middle of training and rerun. Either way the models, histories and predictions are those of a run made from
nothing with the new setting, byte for byte, and no checkpoint is left behind.
"""
from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest

from helpers import deep_update, run_snakemake, write_config
from dgex.provenance import sha256_file
from test_regeneration import copy_run
from test_reliability import RUN, checkpoint_written_since, interrupt, snakemake_cmd, training

pytestmark = pytest.mark.slow

EPOCHS = 30  # a few seconds of training per part: room for a kill between two epochs
ARCH = "h1x16_d10"
BASE = {"dgex": {"epochs": EPOCHS}}
EDITED = deep_update(BASE, {"dedup": {"distance": 0.001}})  # the near-duplicates (distance ~0.05) are kept
TARGETS = tuple(f"{RUN}/models/dgex/{ARCH}/part{p}/best_geo.keras" for p in (0, 1))


def trained_files(workdir: Path) -> dict[str, str]:
    """sha256 of every model, history and prediction train_dgex wrote (provenance records hold times)."""
    root = workdir / RUN / "models" / "dgex"
    return {p.relative_to(root).as_posix(): sha256_file(p) for p in sorted(root.rglob("*"))
            if p.is_file() and not p.name.endswith(".prov.json")}


def training_logs(workdir: Path) -> str:
    return "".join(p.read_text() for p in sorted((workdir / RUN / "logs" / "train_dgex").glob("*.log")))


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> tuple[Path, Path]:
    """(a finished run with the first setting, a run from nothing with the edited one), made side by side."""
    base = tmp_path_factory.mktemp("stale_checkpoint")
    finished, reference = base / "finished", base / "reference"
    write_config(finished, BASE)
    write_config(reference, EDITED)
    procs = [subprocess.Popen(snakemake_cmd(w, *TARGETS), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for w in (finished, reference)]
    for p in procs:
        out = p.communicate(timeout=900)[0]
        assert p.returncode == 0, out[-5000:]
    assert trained_files(finished) != trained_files(reference), "the edit did not change the training data"
    return finished, reference


def test_edited_upstream_setting_retrains_from_scratch(runs, tmp_path):
    finished, reference = runs
    work = copy_run(finished, tmp_path / "rerun")
    write_config(work, EDITED)
    proc = run_snakemake(work, *TARGETS)
    assert "rule train_dgex:" in proc.stdout + proc.stderr
    assert "resumed from checkpoint" not in training_logs(work)
    assert trained_files(work) == trained_files(reference), "the rerun's models differ from a run made with the new setting"
    for w in (finished, work):
        assert not (w / RUN / "checkpoints").exists(), "a finished job left its checkpoint behind"


def test_edited_setting_then_killed_mid_training_resumes_only_its_own_checkpoint(runs, tmp_path):
    finished, reference = runs
    work = copy_run(finished, tmp_path / "rerun")
    write_config(work, EDITED)
    att = interrupt(work, signal.SIGKILL, "training", checkpoint_written_since(work), training, targets=TARGETS)
    assert att.checkpoint_epochs and min(att.checkpoint_epochs.values()) < EPOCHS, att.checkpoint_epochs
    run_snakemake(work, "--unlock")
    run_snakemake(work, *TARGETS)
    assert "resumed from checkpoint" in training_logs(work)  # from the killed attempt's checkpoint of the new data
    assert trained_files(work) == trained_files(reference), "the resumed models differ from a run made with the new setting"
    assert not (work / RUN / "checkpoints").exists()
