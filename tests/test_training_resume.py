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

from helpers import REPO

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
out, epochs, pause, jit = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4] == "xla"
rng = np.random.default_rng(0)
X = rng.standard_normal((1100, 16)).astype(np.float32)
Y = np.tanh(X @ rng.standard_normal((16, 24)) / 3).astype(np.float32)
ev = [EvalSet("geo_va", X[:150], Y[:150]), EvalSet("g1000_va", X[150:250], Y[150:250])]
t = Trainer(Architecture(2, 32, 0.1), TrainSettings(epochs=epochs, learning_rate=0.01, monitor_size=200, seed=3,
                                                   jit_compile=jit), X, Y, ev,
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


@pytest.mark.parametrize("variant", ["default", "xla"])
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
