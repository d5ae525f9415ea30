"""D-GEX network and training: the paper's method and the original code's settings, determinism, errors."""
from __future__ import annotations

import io
import json
import math
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from helpers import REPO, run_snakemake, trainer_weights, write_config
from dgex.architecture import Architecture, memory_estimate, parameter_count
from dgex.io import InputError
from dgex.layout import CRITERIA
from dgex.network import build_model, gradient_scales, load_model, save_model
from dgex.trainer import Trainer
from dgex.training import EvalSet, Progress, TrainSettings, next_learning_rate



def data(n=600, n_in=12, n_out=20, seed=0):
    """Landmarks and targets with a learnable nonlinear relation, float32."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, n_in)).astype(np.float32)
    Y = (np.tanh(X @ rng.standard_normal((n_in, n_out)) / 3) + 0.1 * rng.standard_normal((n, n_out))).astype(np.float32)
    return X, Y


def trainer(tmp_path, arch=None, n=600, **settings):
    X, Y = data(n)
    ev = [EvalSet("geo_va", X[:100], Y[:100]), EvalSet("g1000_va", X[100:160], Y[100:160])]
    s = TrainSettings(**({"epochs": 3, "learning_rate": 0.01, "monitor_size": 100, "seed": 5} | settings))
    return Trainer(arch or Architecture(2, 16, 0.1), s, X, Y, ev, CRITERIA, tmp_path / "ckpt")


# --------------------------------------------------------------------------- the network
def test_architecture_names_and_bounds():
    a = Architecture.parse("h3x9000_d25")
    assert (a.layers, a.units, a.dropout) == (3, 9000, 0.25) and a.name == "h3x9000_d25"
    assert Architecture(1, 3000, 0.0).name == "h1x3000_d00"
    for bad, msg in [((0, 10, 0.1), "layer count"), ((11, 10, 0.1), "layer count"), ((1, 0, 0.1), "unit count"),
                     ((1, 200_000, 0.1), "unit count"), ((1, 10, 0.95), "dropout"), ((1, 10, -0.1), "dropout"),
                     ((1, 10, 0.125), "whole percent")]:
        with pytest.raises(ValueError, match=msg):
            Architecture(*bad)
    with pytest.raises(ValueError, match="not an architecture name"):
        Architecture.parse("h3-9000")


def test_settings_are_the_original_scripts():
    s = TrainSettings()
    assert (s.epochs, s.batch_size, s.momentum, s.lr_scale_after_first, s.lr_decay, s.lr_min, s.monitor_size) == \
        (200, 200, 0.5, 3.0, 0.9, 1e-5, 5000)
    assert s.initial_lr(1) == 5e-4 and s.initial_lr(2) == 3e-4 and s.initial_lr(3) == 3e-4
    with pytest.raises(ValueError, match="momentum=1.5"):
        TrainSettings(momentum=1.5)
    with pytest.raises(ValueError, match="precision='float16'"):
        TrainSettings(precision="float16")


def test_precision_and_xla_are_training_params_and_run_options_are_not():
    """Both change the numbers a job computes, so an edit must retrain; where it runs must not."""
    from dgex.training import training_params

    dgex = {"layers": [1], "units": [8], "dropout": [0.0], "learning_rate": None, "precision": "mixed_bfloat16",
            "jit_compile": True, "distribute": True, "memory_limit_gb": 4.0, "gpus": 2, "gpu_pool_dir": "/tmp/pool"}
    params = training_params(dgex, Architecture(1, 8, 0.0))
    assert params["precision"] == "mixed_bfloat16" and params["jit_compile"] is True
    assert not params.keys() & {"distribute", "memory_limit_gb", "gpus", "gpu_pool_dir", "layers", "units", "dropout"}
    assert TrainSettings.from_config(params, seed=0).precision == "mixed_bfloat16"


def test_learning_rate_schedule():
    s = TrainSettings()
    assert next_learning_rate(1e-3, 0.5, 0.4, s) == pytest.approx(9e-4)  # rose: x 0.9
    assert next_learning_rate(1e-3, 0.4, 0.5, s) == 1e-3  # fell: unchanged
    assert next_learning_rate(1.05e-5, 0.5, 0.4, s) == 1e-5  # floored


def test_paper_parameter_counts():
    # 943 landmarks -> one half of the 9,520 targets
    assert parameter_count(943, 4760, Architecture(1, 3000, 0.1)) == 943 * 3000 + 3000 + 3000 * 4760 + 4760
    assert parameter_count(943, 4760, Architecture(3, 9000, 0.1)) == \
        943 * 9000 + 9000 + 2 * (9000 * 9000 + 9000) + 9000 * 4760 + 4760 == 213_358_760


def test_initialization_and_dropout_placement():
    import keras

    arch = Architecture(3, 64, 0.25)
    model = build_model(50, 40, arch, seed=1)
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    sizes = [50, 64, 64, 64, 40]
    for i, layer in enumerate(dense[:-1]):
        W, b = (np.asarray(v) for v in layer.weights)
        bound = math.sqrt(6 / (sizes[i] + sizes[i + 1]))  # Glorot uniform
        assert np.abs(W).max() <= bound and np.abs(W).max() > 0.9 * bound and not b.any()
        assert layer.activation.__name__ == "tanh"
    W_out, b_out = (np.asarray(v) for v in dense[-1].weights)
    assert np.abs(W_out).max() <= 1e-4 and np.abs(W_out).max() > 0.9e-4 and not b_out.any()
    assert dense[-1].activation.__name__ == "linear"
    # dropout on the inputs of hidden layers 2..L and of the output, never on the landmarks
    order = [type(layer).__name__ for layer in model.layers[1:]]
    assert order == ["Dense", "Dropout", "Dense", "Dropout", "Dense", "Dropout", "Dense"]
    assert gradient_scales(model, 3.0) == [1.0, 1.0, 3.0, 1.0, 3.0, 1.0, 3.0, 1.0]


# --------------------------------------------------------------------------- the training step
def test_sgd_steps_equal_the_original_update_rule(tmp_path):
    """Two mini-batches (no dropout) equal pylearn2's momentum rule with lr scales, computed in float64 NumPy."""
    arch = Architecture(2, 8, 0.0)
    t = trainer(tmp_path, arch=arch, n=400, batch_size=200, learning_rate=0.02)
    W = [w.astype(np.float64) for w in trainer_weights(t)]
    inc = [np.zeros_like(w) for w in W]
    lr = [0.02 * c for c in t.scales]
    order = t.epoch_order(1)
    for b in range(2):
        idx = order[b * 200 : (b + 1) * 200]
        x, y = t.X_tr[idx].astype(np.float64), t.Y_tr[idx].astype(np.float64)
        h1 = np.tanh(x @ W[0] + W[1])
        h2 = np.tanh(h1 @ W[2] + W[3])
        out = h2 @ W[4] + W[5]
        d_out = 2 * (out - y) / len(x)  # d/d out of mean over rows of the sum over targets of squared errors
        d_z2 = (d_out @ W[4].T) * (1 - h2**2)
        d_z1 = (d_z2 @ W[2].T) * (1 - h1**2)
        grads = [x.T @ d_z1, d_z1.sum(0), h1.T @ d_z2, d_z2.sum(0), h2.T @ d_out, d_out.sum(0)]
        for i, g in enumerate(grads):
            inc[i] = 0.5 * inc[i] - lr[i] * g
            W[i] = W[i] + inc[i]
    t.run_epoch(1)
    for got, want in zip(trainer_weights(t), W):
        np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-6)


def test_dropout_is_inverted_and_only_in_training(tmp_path):
    import tensorflow as tf

    t = trainer(tmp_path, arch=Architecture(1, 32, 0.25))
    x = tf.constant(np.tile(t.X_tr[:4], (2000, 1)))  # 2,000 copies of 4 profiles: a mask each
    ev = t._forward_eval(x[:4]).numpy()
    train = t._forward_train(x, tf.constant([3, 9], tf.int64)).numpy()
    assert np.array_equal(train, t._forward_train(x, tf.constant([3, 9], tf.int64)).numpy())  # seeded
    assert not np.allclose(train[:4], ev)  # masks are active when training
    samples = train.reshape(2000, 4, -1)
    # inverted scaling: the mean over masks is the inference output
    np.testing.assert_allclose(samples.mean(0), ev, atol=3e-3 * max(1.0, np.abs(ev).max()))


def test_training_learns_tracks_best_models_and_writes_history(tmp_path):
    t = trainer(tmp_path, epochs=4)
    state = t.fit(tmp_path / "history.tsv", timing_path=tmp_path / "epochs.tsv")
    import pandas as pd

    h = pd.read_csv(tmp_path / "history.tsv", sep="\t")
    assert list(h.columns) == ["epoch", "learning_rate", "train_monitor_mae", "geo_va_mae", "g1000_va_mae"]
    assert h["epoch"].tolist() == [1, 2, 3, 4] and h["geo_va_mae"].iloc[-1] < h["geo_va_mae"].iloc[0]
    assert list(pd.read_csv(tmp_path / "epochs.tsv", sep="\t").columns)[-1] == "seconds"
    for crit, split in CRITERIA.items():
        best = h.loc[h[f"{split}_mae"].idxmin()]
        assert state.best[crit]["epoch"] == best["epoch"]
        model = t.best_model(crit)
        e = t.eval_sets[split]
        mae = np.abs(np.asarray(model(e.X)) - e.Y).mean()
        assert mae == pytest.approx(best[f"{split}_mae"], rel=1e-5)


@pytest.mark.parametrize("jit_compile", [False, True], ids=["default", "xla"])
def test_same_seed_same_weights_other_seed_other_weights(tmp_path, jit_compile):
    a = trainer(tmp_path / "a", epochs=2, jit_compile=jit_compile)
    a.fit(tmp_path / "a.tsv")
    b = trainer(tmp_path / "b", epochs=2, jit_compile=jit_compile)
    b.fit(tmp_path / "b.tsv")
    c = trainer(tmp_path / "c", epochs=2, seed=6, jit_compile=jit_compile)
    c.fit(tmp_path / "c.tsv")
    for wa, wb in zip(trainer_weights(a), trainer_weights(b)):
        assert np.array_equal(wa, wb)
    assert not np.array_equal(trainer_weights(a)[0], trainer_weights(c)[0])
    assert (tmp_path / "a.tsv").read_bytes() == (tmp_path / "b.tsv").read_bytes()


def test_xla_trains_the_same_method(tmp_path):
    """Without dropout XLA changes rounding only (with dropout its stateless generator also draws other masks)."""
    plain = trainer(tmp_path / "plain", arch=Architecture(2, 16, 0.0), epochs=2)
    plain.fit(tmp_path / "plain.tsv")
    xla = trainer(tmp_path / "xla", arch=Architecture(2, 16, 0.0), epochs=2, jit_compile=True)
    xla.fit(tmp_path / "xla.tsv")
    for wp, wx in zip(trainer_weights(plain), trainer_weights(xla)):
        assert np.allclose(wp, wx, rtol=1e-3, atol=1e-5)
    for hp, hx in zip(plain.state.history, xla.state.history):
        assert hx["geo_va_mae"] == pytest.approx(hp["geo_va_mae"], rel=1e-4)


def test_mixed_bfloat16_trains_and_saves_float32(tmp_path):
    t = trainer(tmp_path, precision="mixed_bfloat16", epochs=2)
    t.fit(tmp_path / "h.tsv")
    assert all(w.dtype == np.float32 and np.isfinite(w).all() for w in trainer_weights(t))
    assert t.state.history[-1]["geo_va_mae"] < t.state.history[0]["geo_va_mae"] < 1.0
    with np.load(t.checkpoint_path()) as z:
        arrays = [n for n in z.files if n.startswith(("var_", "mom_", "best_"))]
        assert len(arrays) == 6 * 4 and all(z[n].dtype == np.float32 for n in arrays)
    save_model(t.best_model("geo"), tmp_path / "best.keras")
    model = load_model(tmp_path / "best.keras")
    assert all(w.dtype == np.float32 for w in model.get_weights())
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), t.best_weights["geo"]))


def test_mixed_bfloat16_multiplies_in_bfloat16_and_updates_in_float32(tmp_path):
    """Two SGD steps: bfloat16 products move the update by about bfloat16's rounding (2^-8), not float32's; increments
    far below bfloat16's resolution of the weights still change them (float32 weights and momentum)."""
    def increments(name, precision, lr):
        t = trainer(tmp_path / name, arch=Architecture(2, 8, 0.0), n=400, batch_size=200, learning_rate=lr, precision=precision)
        before = trainer_weights(t)
        t.run_epoch(1)
        return [np.asarray(a, np.float64) - b for a, b in zip(trainer_weights(t), before)], before

    (f32, w0), (bf16, _) = increments("f32", "float32", 0.02), increments("bf16", "mixed_bfloat16", 0.02)
    for a, b in zip(f32, bf16):
        rel = np.linalg.norm(b - a) / np.linalg.norm(a)
        assert 1e-4 < rel < 5e-2, rel
    small, _ = increments("small", "mixed_bfloat16", 2e-3)
    bf16_spacing = 2.0 ** (np.floor(np.log2(np.abs(w0[0]))) - 7)  # of the landmarks' weights
    # every increment would round away in bfloat16 weights; in float32 almost all of them count
    assert np.all(np.abs(small[0]) < bf16_spacing / 2) and np.mean(small[0] != 0) > 0.9


def test_progress_bar_on_a_terminal():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    out = Tty()
    p = Progress(1000, "epoch 3/200", stream=out)
    p.update(500)
    p.update(1000)
    text = out.getvalue()
    assert "epoch 3/200 [" + "#" * 15 + "." * 15 + "] 500/1000" in text and "profiles/s" in text and text.endswith("\n")
    quiet = io.StringIO()
    Progress(10, "x", stream=quiet).update(10)
    assert quiet.getvalue() == ""  # no bar in log files


# --------------------------------------------------------------------------- bad input
def test_nan_in_training_data_is_an_error(tmp_path):
    X, Y = data()
    Y[17, 3] = np.nan
    with pytest.raises(InputError, match=r"training targets: 1 NaN/infinite value\(s\) in 1 profile\(s\) \(first rows \[17\]"):
        Trainer(Architecture(1, 8, 0.0), TrainSettings(), X, Y, [], CRITERIA, tmp_path)
    X[2, 0] = np.inf
    with pytest.raises(InputError, match="geo_va landmarks"):
        Trainer(Architecture(1, 8, 0.0), TrainSettings(), data()[0], data()[1], [EvalSet("geo_va", X, data()[1])], CRITERIA,
                tmp_path)


def test_memory_estimate_and_a_device_too_small(tmp_path):
    est = memory_estimate(943, 4760, Architecture(3, 9000, 0.1), 200, 88807, 30000)
    assert est["weights"] == est["momentum"] == 4 * 213_358_760
    assert 4e9 < sum(est.values()) < 8e9
    X, Y = data()
    with pytest.raises(MemoryError, match=r"D-GEX h3x9000_d10 needs about .* GB \(weights .* but dgex.memory_limit_gb=0.01 is "
                                          r"0.01 GB; use more target partitions"):
        Trainer(Architecture(3, 9000, 0.1), TrainSettings(), X, Y, [], CRITERIA, tmp_path, memory_limit_gb=0.01)


def test_corrupt_checkpoint_is_a_clear_error(tmp_path):
    t = trainer(tmp_path, epochs=2)
    t.fit(tmp_path / "h.tsv")
    ckpt = t.checkpoint_path()
    good = ckpt.read_bytes()
    ckpt.write_bytes(good[: len(good) // 2])  # truncated
    with pytest.raises(InputError, match="corrupt checkpoint .*delete it to restart training"):
        trainer(tmp_path, epochs=3).try_resume()
    # a bit flipped inside an array: the zip CRC fails
    flipped = bytearray(good)
    flipped[len(good) // 2] ^= 0xFF
    ckpt.write_bytes(bytes(flipped))
    with pytest.raises(InputError, match="corrupt checkpoint"):
        trainer(tmp_path, epochs=3).try_resume()
    # a whole file with a wrong array
    ckpt.write_bytes(good)
    with zipfile.ZipFile(ckpt) as z:
        arrays = {n[:-4]: np.load(io.BytesIO(z.read(n))) for n in z.namelist()}
    arrays["var_0"] = arrays["var_0"][:, :3]
    from dgex.reproducible import write_npz

    write_npz(ckpt, arrays)
    with pytest.raises(InputError, match=r"corrupt checkpoint .*array var_0"):
        trainer(tmp_path, epochs=3).try_resume()


def test_checkpoint_of_other_settings_is_not_resumed(tmp_path):
    trainer(tmp_path, epochs=2).fit(tmp_path / "h.tsv")
    assert trainer(tmp_path, epochs=2, learning_rate=0.02).try_resume() is False
    assert trainer(tmp_path, epochs=2, jit_compile=True).try_resume() is False  # XLA rounds differently
    assert trainer(tmp_path, epochs=2, precision="mixed_bfloat16").try_resume() is False
    t = trainer(tmp_path, epochs=3)
    assert t.try_resume() and t.state.epoch == 2  # a longer run continues a shorter one
    assert trainer(tmp_path, epochs=1).try_resume() is False  # but a checkpoint past the end is not used
    state = json.loads(np.load(t.checkpoint_path())["state_json"].tobytes())
    assert state["epoch"] == 2 and len(state["history"]) == 2


def test_model_file_round_trip_is_byte_reproducible(tmp_path):
    model = build_model(12, 20, Architecture(2, 16, 0.1), seed=3)
    save_model(model, tmp_path / "a.keras")
    save_model(build_model(12, 20, Architecture(2, 16, 0.1), seed=3), tmp_path / "b.keras")
    assert (tmp_path / "a.keras").read_bytes() == (tmp_path / "b.keras").read_bytes()
    back = load_model(tmp_path / "a.keras")
    x = data()[0][:5]
    np.testing.assert_array_equal(np.asarray(back(x)), np.asarray(model(x)))
    (tmp_path / "bad.keras").write_bytes(b"not a zip")
    with pytest.raises(InputError, match="not a .keras model file"):
        load_model(tmp_path / "bad.keras")


MIRRORED = r"""
import sys, numpy as np, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from dgex.architecture import Architecture
from dgex.layout import CRITERIA
from dgex.trainer import Trainer
from dgex.training import EvalSet, TrainSettings
from test_dgex_model import data
X, Y = data()
ev = [EvalSet("geo_va", X[:100], Y[:100]), EvalSet("g1000_va", X[100:160], Y[100:160])]
out = {}
for distribute in (False, True):
    t = Trainer(Architecture(2, 16, 0.0), TrainSettings(epochs=2, learning_rate=0.01, monitor_size=100, seed=5), X, Y, ev,
                CRITERIA, Path(sys.argv[2]) / str(distribute), distribute=distribute)
    t.fit(Path(sys.argv[2]) / f"{distribute}.tsv")
    out[distribute] = (t.n_replicas, [np.array(v) for v in t.vars])
assert out[False][0] == 1 and out[True][0] == 2, (out[False][0], out[True][0])
for a, b in zip(out[False][1], out[True][1]):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
print("MIRRORED OK")
"""


def test_mirrored_strategy_matches_one_device(tmp_path):
    """dgex.distribute on two (logical CPU) devices: each replica takes half of every batch; same updates."""
    proc = subprocess.run([sys.executable, "-c", MIRRORED, str(REPO / "tests"), str(tmp_path)], capture_output=True,
                          text=True, timeout=600, cwd=REPO)
    assert "MIRRORED OK" in proc.stdout, proc.stdout[-2000:] + proc.stderr[-4000:]


# --------------------------------------------------------------------------- config errors (dry runs)
@pytest.mark.parametrize("dgex, message", [
    ({"layers": [0]}, "schema['properties']['dgex']['properties']['layers']"),
    ({"dropout": [0.95]}, "schema['properties']['dgex']['properties']['dropout']"),
    ({"dropout": [0.125]}, "dgex.dropout: 0.125 must be a whole percent"),
])
def test_bad_dgex_config_is_refused(tmp_path, dgex, message):
    write_config(tmp_path, {"dgex": dgex})
    proc = run_snakemake(tmp_path, "-n", check=False, timeout=300)
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0 and message in text, text[-3000:]
