"""Interrupted runs resume to the same bytes, reruns are bit-for-bit identical, the seed is used, failures are contained.

One reference run and one run that is killed four times (SIGTERM and SIGKILL of the whole snakemake process group,
during preprocessing and during training) and resumed with the same command; the two run side by side.
"""
from __future__ import annotations

import base64
import gzip
import json
import os
import re
import shutil
import signal
import subprocess
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from helpers import REPO, SNAKEMAKE, run_snakemake, trainer_weights, write_config
from dgex.provenance import sha256_file
from dgex.verify import verify

RUN = "results/tiny"
EPOCHS = 30  # long enough (a few seconds per network) to be killed between two epochs of training
CONFIG = {"dgex": {"epochs": EPOCHS}}
NOT_COMPARED = ("logs/", "benchmarks/")  # time-stamped by nature (see docs/reliability.md)
TIMING_FIELDS = ("seconds", "finished_utc")  # the only provenance fields allowed to differ between runs


# --------------------------------------------------------------------------- helpers
def snakemake_cmd(workdir: Path, *args: str) -> list[str]:
    return SNAKEMAKE + ["-s", str(REPO / "Snakefile"), "--directory", str(workdir),
                        "--configfile", str(workdir / "config.yaml"), "--cores", "2", *args]


def artifacts(workdir: Path, temporaries: bool = False) -> dict[str, Path]:
    """Every file under results/<run> except logs and timings (and temporaries), by path relative to the run folder."""
    root = workdir / RUN
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if p.is_file() and not rel.startswith(NOT_COMPARED) and (temporaries or not p.name.startswith(".tmp-")):
            out[rel] = p
    return out


def fingerprint(path: Path) -> str:
    """sha256 of a file; for a provenance record, of its content without the timing fields."""
    if path.name.endswith(".prov.json") and not path.name.startswith(".tmp-"):
        try:
            record = json.loads(path.read_text())
        except ValueError:
            return sha256_file(path)
        stable = {k: v for k, v in record.items() if k not in TIMING_FIELDS}
        return "record:" + json.dumps(stable, sort_keys=True)
    return sha256_file(path)


def incomplete_outputs(workdir: Path) -> set[str]:
    """Outputs Snakemake has marked incomplete (jobs started and not finished), relative to the run folder."""
    inc = workdir / ".snakemake" / "incomplete"
    out = set()
    for marker in inc.rglob("*") if inc.is_dir() else []:
        if marker.is_file() and not marker.name.startswith("@") and marker.name != "migration_underway":
            parts = marker.relative_to(inc).parts
            b64 = "".join(p[1:] if p.startswith("@") else p for p in parts)
            try:
                path = base64.urlsafe_b64decode(b64).decode()
            except ValueError:
                continue
            out.add(path[len(RUN) + 1:] if path.startswith(RUN + "/") else path)
    return out


def is_whole(path: Path) -> bool:
    """True when a file parses completely in its format (no truncated file under a final name)."""
    name = path.name
    try:
        if name.endswith((".h5", ".gctx")):
            with h5py.File(path, "r") as f:
                f.visititems(lambda _, obj: obj[...] if isinstance(obj, h5py.Dataset) else None)
        elif name.endswith((".keras", ".npz")):
            with zipfile.ZipFile(path) as z:
                return z.testzip() is None
        elif name.endswith(".gz"):
            with gzip.open(path) as fh:
                while fh.read(1 << 20):
                    pass
        elif name.endswith(".json"):
            json.loads(path.read_text())
        elif name.endswith(".tsv"):
            pd.read_csv(path, sep="\t")
        elif name.endswith(".png"):
            return path.read_bytes().endswith(b"IEND\xaeB`\x82")
        elif name.endswith(".svg"):
            return path.read_text().rstrip().endswith("</svg>")
        return path.stat().st_size > 0
    except Exception:
        return False
    return True


@dataclass
class Attempt:
    """One run of the workflow cut short by a signal."""

    signal: str
    stage: str
    running: set[str]  # outputs of the jobs running when the signal was sent
    files: dict[str, str] = field(default_factory=dict)  # artifact -> sha256 right after the kill
    whole: dict[str, bool] = field(default_factory=dict)
    incomplete: set[str] = field(default_factory=set)  # marked incomplete after the kill
    temporaries: list[str] = field(default_factory=list)
    checkpoint_epochs: dict[str, int] = field(default_factory=dict)
    output: str = ""


def checkpoint_epochs(workdir: Path) -> dict[str, int]:
    """Epoch reached by each training checkpoint on disk."""
    out = {}
    for npz in (workdir / RUN / "checkpoints").rglob("checkpoint.npz"):
        with np.load(npz, allow_pickle=False) as z:
            if "state_json" in z.files:
                out[npz.parent.relative_to(workdir / RUN).as_posix()] = json.loads(z["state_json"].tobytes())["epoch"]
    return out


def wait_for_group(pgid: int, timeout: float = 60) -> None:
    """Wait until no process of the group is left."""
    end = time.time() + timeout
    while time.time() < end:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    raise AssertionError(f"processes of group {pgid} still alive {timeout} s after the signal")


def interrupt(workdir: Path, sig: signal.Signals, stage: str, ready, busy=bool, timeout: float = 600,
              targets: tuple[str, ...] = ()) -> Attempt:
    """Run the workflow (for `targets`); once `ready(start_time)` holds and `busy(running outputs)`, kill its process group."""
    log = workdir / f"attempt-{stage}-{sig.name}.out"
    with open(log, "w") as fh:
        proc = subprocess.Popen(snakemake_cmd(workdir, *targets), stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
    t0, end = time.time(), time.time() + timeout
    try:
        while not (ready(t0) and busy(running := incomplete_outputs(workdir))):
            if proc.poll() is not None:
                raise AssertionError(f"the run ended (rc {proc.returncode}) before the {stage} fault:\n{log.read_text()[-3000:]}")
            if time.time() > end:
                raise AssertionError(f"no {stage} fault point within {timeout} s:\n{log.read_text()[-3000:]}")
            time.sleep(0.02)
        os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            # Seen once under heavy load: Snakemake's main process outlived SIGTERM to its group; a user then
            # kills it, and that must lose nothing either (the checks below run the same way).
            with open(log, "a") as fh:
                fh.write("\n[test] snakemake still alive 120 s after the signal; escalated to SIGKILL\n")
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    wait_for_group(proc.pid)
    att = Attempt(sig.name, stage, running, incomplete=incomplete_outputs(workdir), output=log.read_text(),
                  checkpoint_epochs=checkpoint_epochs(workdir))
    for rel, p in artifacts(workdir, temporaries=True).items():
        if p.name.startswith(".tmp-"):
            att.temporaries.append(rel)
        else:
            att.files[rel] = fingerprint(p)
            att.whole[rel] = is_whole(p)
    return att


def training(running: set[str]) -> bool:
    """A train_dgex job is among the running ones."""
    return any(p.startswith("models/dgex/") for p in running)


def appeared_since(path: Path):
    """A fault point: `path` was (re)written by the current attempt."""
    return lambda t0: path.exists() and path.stat().st_mtime >= t0


def checkpoint_written_since(workdir: Path):
    """A fault point: a training checkpoint was written by the current attempt (training is under way)."""
    ckpt = workdir / RUN / "checkpoints"
    return lambda t0: ckpt.is_dir() and any(p.stat().st_mtime >= t0 for p in ckpt.rglob("checkpoint.npz"))


# --------------------------------------------------------------------------- the runs
@dataclass
class Runs:
    reference: Path
    faulty: Path
    attempts: list[Attempt]
    locked: subprocess.CompletedProcess
    final: subprocess.CompletedProcess


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Runs:
    base = tmp_path_factory.mktemp("reliability")
    ref, faulty = base / "reference", base / "interrupted"
    write_config(ref, CONFIG)
    write_config(faulty, CONFIG)
    ref_log = open(base / "reference.out", "w")
    ref_proc = subprocess.Popen(snakemake_cmd(ref), stdout=ref_log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        attempts = [interrupt(faulty, signal.SIGTERM, "preprocessing", appeared_since(faulty / RUN / "genes" / "geo.h5")),
                    interrupt(faulty, signal.SIGKILL, "preprocessing", appeared_since(faulty / RUN / "qnorm" / "reference.tsv"))]
        # a SIGKILLed Snakemake cannot remove its lock: the same command refuses and says how to go on
        locked = run_snakemake(faulty, check=False)
        run_snakemake(faulty, "--unlock")
        attempts += [interrupt(faulty, sig, "training", checkpoint_written_since(faulty), training)
                     for sig in (signal.SIGTERM, signal.SIGKILL)]
        run_snakemake(faulty, "--unlock")
        final = run_snakemake(faulty, check=False)
        rc = ref_proc.wait(timeout=900)
    finally:
        if ref_proc.poll() is None:
            os.killpg(ref_proc.pid, signal.SIGKILL)
        ref_log.close()
    assert rc == 0, (base / "reference.out").read_text()[-5000:]
    assert final.returncode == 0, final.stdout[-3000:] + final.stderr[-5000:]
    return Runs(ref, faulty, attempts, locked, final)


# --------------------------------------------------------------------------- the checks
def test_each_fault_hit_running_jobs(runs):
    for att in runs.attempts:
        assert att.running, f"{att.signal} during {att.stage}: no job was running when the signal was sent"
    pre = set().union(*(a.running for a in runs.attempts[:2]))
    assert not any("models/" in p for p in pre), pre
    for att in runs.attempts[2:]:
        assert any(p.startswith("models/dgex/") for p in att.running), att.running


def test_resumed_run_equals_uninterrupted_run(runs):
    """Every artifact (models, predictions, tables, figures) is byte-identical to the reference's; no checkpoint is left."""
    ref, got = artifacts(runs.reference), artifacts(runs.faulty)
    assert sorted(got) == sorted(ref)
    differ = [rel for rel, p in ref.items() if fingerprint(p) != fingerprint(got[rel])]
    assert not differ, "differ from the uninterrupted run:\n" + "\n".join(differ)
    kinds = {Path(r).suffix for r in ref}
    assert {".keras", ".h5", ".tsv", ".md", ".png", ".svg", ".gctx"} <= kinds
    for run in (runs.reference, runs.faulty):  # a finished job deletes its checkpoint, its temporary state
        assert not (run / RUN / "checkpoints").exists(), sorted((run / RUN / "checkpoints").rglob("*"))


def test_no_half_written_file_under_a_final_name(runs):
    """After every kill, each file under a final name is the reference's file, or a whole file of a cut-short job."""
    ref = {rel: fingerprint(p) for rel, p in artifacts(runs.reference).items()}
    for att in runs.attempts:
        for rel, digest in att.files.items():
            if digest == ref.get(rel):
                continue
            assert rel in att.incomplete | att.running or rel.startswith("checkpoints/"), \
                f"{att.signal} during {att.stage}: {rel} differs from the reference but no cut-short job wrote it"
            assert att.whole[rel], f"{att.signal} during {att.stage}: {rel} is truncated or unreadable"
        for rel in att.temporaries:
            assert re.fullmatch(r"(.*/)?\.tmp-\d+-[^/]+", rel), rel


def test_training_resumed_from_its_checkpoint(runs):
    for att in runs.attempts[2:]:
        assert att.checkpoint_epochs and min(att.checkpoint_epochs.values()) < EPOCHS, att.checkpoint_epochs
    logs = "".join(p.read_text() for p in (runs.faulty / RUN / "logs" / "train_dgex").glob("*.log"))
    assert re.search(r"resumed from checkpoint", logs), logs[-2000:]


def test_sigkill_leaves_a_lock_that_the_rerun_names(runs):
    text = runs.locked.stdout + runs.locked.stderr
    assert runs.locked.returncode != 0 and "--unlock" in text and "LockException" in text


def test_resumed_run_verifies_and_leaves_no_temporaries(runs):
    report = verify(runs.faulty / RUN)
    assert report.passed, "\n".join(report.lines())
    # temporaries of killed writes are removed when the job is redone (dgex.rulekit), a checkpoint's when it is deleted
    assert not report.temporary, report.temporary


def test_failed_rule_is_named_and_keeps_other_artifacts(runs, tmp_path):
    work = tmp_path / "run"
    shutil.copytree(runs.reference, work, ignore=shutil.ignore_patterns("*.out"), symlinks=True)
    before = {rel: sha256_file(p) for rel, p in artifacts(work).items()}
    bad = work / RUN / "predictions" / "lr" / "gtex_te.h5"
    bad.write_bytes(bad.read_bytes()[: bad.stat().st_size // 2])  # a truncated file, as from a broken copy
    proc = run_snakemake(work, check=False)
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "Error in rule evaluate_predictions" in text and "predictions/lr/gtex_te.h5" in text
    assert re.search(r"predictions/lr/gtex_te\.h5: (corrupt|truncated)", text), text[-3000:]
    after = {rel: sha256_file(p) for rel, p in artifacts(work).items()}
    # the failed job's outputs may be removed by Snakemake; everything else is untouched
    redo = {"predictions/lr/gtex_te.h5", "evaluation/lr/gtex_te.tsv", "evaluation/lr/gtex_te.tsv.prov.json"}
    assert {rel: d for rel, d in before.items() if rel not in redo} == {rel: d for rel, d in after.items() if rel not in redo}
    assert all(after.get(rel, d) == d for rel, d in before.items() if rel in redo and rel.startswith("evaluation/"))
    report = verify(work / RUN)
    assert [f.path for f in report.mismatch] == [f"{RUN}/predictions/lr/gtex_te.h5"], report.lines()


def test_seed_changes_the_results(runs, tmp_path):
    work = tmp_path / "run"
    shutil.copytree(runs.reference, work, ignore=shutil.ignore_patterns("*.out"), symlinks=True)
    write_config(work, CONFIG | {"seed": 1})
    seeded = ["splits/assignment.tsv", "partitions/targets.tsv"]
    run_snakemake(work, *[f"{RUN}/{s}" for s in seeded])
    for rel in seeded:
        assert sha256_file(work / RUN / rel) != sha256_file(runs.reference / RUN / rel), f"seed 1 left {rel} unchanged"
    # the k-means of the deduplication is seeded too (its result, the exact duplicates, need not change)
    assert json.loads((work / RUN / "dedup" / "geo_profiles.tsv.prov.json").read_text())["seed"] == 1
    assert sha256_file(work / RUN / "raw" / "geo.gctx") == sha256_file(runs.reference / RUN / "raw" / "geo.gctx")


def test_seed_reaches_training(tmp_path):
    """Same seed: identical weights from a fresh Trainer; another seed: other weights (initialization, dropout, order)."""
    from dgex.architecture import Architecture
    from dgex.trainer import Trainer
    from dgex.training import EvalSet, TrainSettings

    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 6)).astype(np.float32)
    Y = (X @ rng.standard_normal((6, 5))).astype(np.float32)

    def train(seed: int, name: str) -> list[np.ndarray]:
        s = TrainSettings(epochs=2, batch_size=16, learning_rate=0.01, monitor_size=32, seed=seed)
        t = Trainer(Architecture(1, 8, 0.1), s, X, Y, [EvalSet("geo_va", X[:16], Y[:16])], {"geo": "geo_va"}, tmp_path / name)
        t.fit(tmp_path / f"{name}.tsv")
        return trainer_weights(t)

    a, b, c = train(0, "a"), train(0, "b"), train(1, "c")
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not any(np.array_equal(x, y) for x, y in zip(a, c))


@pytest.mark.parametrize("jit_compile,precision", [(False, "float32"), (True, "float32"), (False, "mixed_bfloat16")],
                         ids=["default", "xla", "bf16"])
def test_checkpoint_resume_is_exact(tmp_path, jit_compile, precision):
    """Training stopped after an epoch and resumed from its checkpoint ends with the bytes of an unbroken run."""
    from dgex.architecture import Architecture
    from dgex.trainer import Trainer
    from dgex.training import EvalSet, TrainSettings

    rng = np.random.default_rng(1)
    X = rng.standard_normal((90, 6)).astype(np.float32)
    Y = np.tanh(X @ rng.standard_normal((6, 7))).astype(np.float32)
    s = TrainSettings(epochs=6, batch_size=20, learning_rate=0.02, monitor_size=40, seed=5, jit_compile=jit_compile,
                      precision=precision)

    def trainer(name: str) -> Trainer:
        return Trainer(Architecture(2, 8, 0.25), s, X, Y, [EvalSet("geo_va", X[:30], Y[:30])], {"geo": "geo_va"}, tmp_path / name)

    whole = trainer("whole")
    whole.fit(tmp_path / "whole.tsv")

    class Killed(Exception):
        pass

    def stop_after_3(row):
        if row["epoch"] == 3:
            raise Killed

    with pytest.raises(Killed):
        trainer("cut").fit(tmp_path / "cut.tsv", on_epoch=stop_after_3)
    resumed, ran = trainer("cut"), []
    resumed.fit(tmp_path / "cut.tsv", on_epoch=lambda row: ran.append(row["epoch"]))
    assert ran == [4, 5, 6] and [r["epoch"] for r in resumed.state.history] == [1, 2, 3, 4, 5, 6]
    assert (tmp_path / "whole.tsv").read_bytes() == (tmp_path / "cut.tsv").read_bytes()
    assert all(np.array_equal(a, b) for a, b in zip(trainer_weights(whole), trainer_weights(resumed)))
    assert all(np.array_equal(a, b) for a, b in zip(whole.best_weights["geo"], resumed.best_weights["geo"]))
