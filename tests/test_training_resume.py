"""A training process killed mid-run (SIGKILL) resumes from its last checkpoint and ends bit-for-bit as an uninterrupted run."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from helpers import REPO, trainer_weights

EPOCHS = 8
TRAIN = r"""
import logging, sys, time
import numpy as np
import tensorflow as tf

tf.config.threading.set_intra_op_parallelism_threads(2)
tf.config.threading.set_inter_op_parallelism_threads(1)
tf.config.experimental.enable_op_determinism()
from dgex.architecture import Architecture
from dgex.reproducible import write_npz
from dgex.trainer import Trainer
from dgex.training import EvalSet, TrainSettings

logging.basicConfig(level=logging.INFO)
out, epochs, pause, variant = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
rng = np.random.default_rng(0)
X = rng.standard_normal((1100, 16)).astype(np.float32)
Y = np.tanh(X @ rng.standard_normal((16, 24)) / 3).astype(np.float32)
ev = [EvalSet("geo_va", X[:150], Y[:150]), EvalSet("g1000_va", X[150:250], Y[150:250])]
t = Trainer(Architecture(2, 32, 0.1), TrainSettings(epochs=epochs, learning_rate=0.01, monitor_size=200, seed=3,
                                                   jit_compile=variant == "xla",
                                                   precision="mixed_bfloat16" if variant == "bf16" else "float32"), X, Y, ev,
            {"geo": "geo_va", "rnaseq": "g1000_va"}, out + "/ckpt")
t.fit(out + "/history.tsv", on_epoch=lambda row: time.sleep(pause))  # the pause only widens the window for the kill
arrays = {f"w{i}": np.array(w) for i, w in enumerate(t.vars)}
arrays |= {f"best_{c}_{i}": w for c, ws in t.best_weights.items() for i, w in enumerate(ws)}
write_npz(out + "/final.npz", arrays)
"""


def start(out: Path, pause: float, variant: str) -> subprocess.Popen:
    out.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen([sys.executable, "-c", TRAIN, str(out), str(EPOCHS), str(pause), variant], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def checkpoint_epoch(out: Path) -> int:
    path = out / "ckpt" / "checkpoint.npz"
    if not path.exists():
        return 0
    with np.load(path) as z:  # written atomically: a file under this name is whole
        return json.loads(z["state_json"].tobytes())["epoch"]


@pytest.mark.parametrize("variant", ["default", "xla", "bf16"])
def test_killed_training_resumes_to_the_same_bits(tmp_path, variant):
    ref, killed = tmp_path / "reference", tmp_path / "killed"
    ref_proc = start(ref, 0.0, variant)
    proc = start(killed, 0.5, variant)
    deadline = time.time() + 300
    while checkpoint_epoch(killed) < 3 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    at_kill = checkpoint_epoch(killed)
    assert 3 <= at_kill < EPOCHS, f"kill came at epoch {at_kill}:\n{proc.stdout.read()[-3000:]}"
    assert proc.returncode == -signal.SIGKILL and not (killed / "final.npz").exists()

    resumed = start(killed, 0.0, variant)
    log = resumed.communicate(timeout=600)[0]
    assert resumed.returncode == 0, log[-3000:]
    assert f"after epoch {at_kill}" in log and "resumed from checkpoint" in log
    assert ref_proc.wait(timeout=600) == 0, ref_proc.stdout.read()[-3000:]

    # weights, best models, the per-epoch history and the last checkpoint: identical bytes
    for name in ("final.npz", "history.tsv", "ckpt/checkpoint.npz"):
        assert (ref / name).read_bytes() == (killed / name).read_bytes(), name
    with np.load(ref / "final.npz") as z:
        assert len(z.files) == 6 * 3 and all(np.isfinite(z[k]).all() for k in z.files)


def _small_problem(seed: int = 2):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((80, 6)).astype(np.float32)
    Y = np.tanh(X @ rng.standard_normal((6, 5))).astype(np.float32)
    return X, Y


def test_checkpoint_of_other_data_code_or_inputs_is_not_resumed(tmp_path, caplog, monkeypatch):
    """A checkpoint resumes only the job it was made for: other data of the same shapes, code or input files start afresh."""
    from dgex import checkpoint
    from dgex.architecture import Architecture
    from dgex.trainer import Trainer
    from dgex.training import EvalSet, TrainSettings

    X, Y = _small_problem()
    X_other = X.copy()
    X_other[7, 3] += 0.5  # one training value differs; every shape is the same
    s = TrainSettings(epochs=3, batch_size=20, learning_rate=0.02, monitor_size=40, seed=5)

    def fit(X_tr, folder, Y_va=Y[:20], **kw) -> tuple[Trainer, list[int]]:
        t = Trainer(Architecture(1, 8, 0.1), s, X_tr, Y, [EvalSet("geo_va", X[:20], Y_va)], {"geo": "geo_va"},
                    tmp_path / folder, **kw)
        ran: list[int] = []
        t.fit(tmp_path / f"{folder}.tsv", on_epoch=lambda row: ran.append(row["epoch"]))
        return t, ran

    fit(X, "ckpt")  # a finished run: its checkpoint (after epoch 3) is still there, as after a finished job today
    caplog.set_level("INFO")
    caplog.clear()
    retrained, ran = fit(X_other, "ckpt")
    assert ran == [1, 2, 3], f"trained epochs {ran}: a checkpoint of other data was resumed"
    assert "starting afresh" in caplog.text and "data.training" in caplog.text and "resumed" not in caplog.text
    scratch, _ = fit(X_other, "scratch")
    assert all(np.array_equal(a, b) for a, b in zip(trainer_weights(retrained), trainer_weights(scratch)))
    assert all(np.array_equal(a, b) for a, b in zip(retrained.best_weights["geo"], scratch.best_weights["geo"]))

    # the same job again resumes (nothing left to train); other evaluation data, code or input files do not
    caplog.clear()
    assert fit(X_other, "ckpt")[1] == [] and "resumed from checkpoint" in caplog.text
    caplog.clear()
    assert fit(X_other, "ckpt", Y_va=Y[:20] + 1)[1] == [1, 2, 3] and "data.geo_va" in caplog.text
    fit(X_other, "ckpt", inputs={"train": "a" * 64})
    caplog.clear()
    assert fit(X_other, "ckpt", inputs={"train": "b" * 64})[1] == [1, 2, 3]
    assert "inputs.train: aaaaaaaaaaaa.. -> bbbbbbbbbbbb.." in caplog.text
    monkeypatch.setattr(checkpoint, "source_sha256", lambda: "edited trainer")
    caplog.clear()
    assert fit(X_other, "ckpt", inputs={"train": "b" * 64})[1] == [1, 2, 3] and "code:" in caplog.text


def test_checkpoint_of_an_older_format_is_not_resumed(tmp_path, caplog):
    from dgex.architecture import Architecture
    from dgex.reproducible import write_npz
    from dgex.trainer import Trainer
    from dgex.training import EvalSet, TrainSettings

    X, Y = _small_problem()
    s = TrainSettings(epochs=2, batch_size=20, learning_rate=0.02, monitor_size=40, seed=5)

    def trainer() -> Trainer:
        return Trainer(Architecture(1, 8, 0.0), s, X, Y, [EvalSet("geo_va", X[:20], Y[:20])], {"geo": "geo_va"}, tmp_path)

    trainer().fit(tmp_path / "h.tsv")
    path = tmp_path / "checkpoint.npz"
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    state = json.loads(arrays["state_json"].tobytes())
    state.pop("binding")
    state["format"] = 2  # what the previous version wrote: architecture and settings only, no data
    arrays["state_json"] = np.frombuffer(json.dumps(state).encode(), dtype=np.uint8)
    write_npz(path, arrays)
    caplog.set_level("INFO")
    ran: list[int] = []
    trainer().fit(tmp_path / "h.tsv", on_epoch=lambda row: ran.append(row["epoch"]))
    assert ran == [1, 2] and "format: 2 -> 3" in caplog.text


def test_remove_checkpoint_keeps_other_jobs_folders(tmp_path):
    from dgex.checkpoint import remove_checkpoint

    root = tmp_path / "results" / "run" / "checkpoints"
    mine, other = root / "dgex" / "h1x8_d10" / "part0", root / "dgex" / "h1x8_d10" / "part1"
    for folder in (mine, other):
        folder.mkdir(parents=True)
        (folder / "checkpoint.npz").write_bytes(b"x")
    (mine / ".tmp-123-checkpoint.npz").write_bytes(b"half")  # a write cut by a kill
    remove_checkpoint(mine, top=root)
    assert not mine.exists() and (other / "checkpoint.npz").exists()
    remove_checkpoint(other, top=root)
    assert not root.exists() and (tmp_path / "results" / "run").is_dir()
    remove_checkpoint(other, top=root)  # nothing left to remove: no error
