"""D-GEX: the multi-task feedforward network of the paper (section 2.3), its training loop, and model files."""
from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import sys
import time
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .io import InputError, _h5_without_timestamps, atomic_path, write_tsv

log = logging.getLogger(__name__)

LAYER_RANGE = (1, 10)
UNIT_RANGE = (1, 100_000)


@dataclass
class Architecture:
    """Hidden layers x units x dropout rate; the paper's grid is {1,2,3} x {3000,6000,9000} x {0,0.1,0.25}."""

    layers: int
    units: int
    dropout: float

    def __post_init__(self):
        if not (LAYER_RANGE[0] <= self.layers <= LAYER_RANGE[1]):
            raise ValueError(f"dgex: hidden layer count {self.layers} is outside {LAYER_RANGE}")
        if not (UNIT_RANGE[0] <= self.units <= UNIT_RANGE[1]):
            raise ValueError(f"dgex: hidden unit count {self.units} is outside {UNIT_RANGE}")
        if not (0.0 <= self.dropout < 1.0):
            raise ValueError(f"dgex: dropout rate {self.dropout} must be in [0, 1)")

    @property
    def name(self) -> str:
        """Wildcard-safe name, e.g. h3x9000_d25 (dropout in percent)."""
        return f"h{self.layers}x{self.units}_d{int(round(self.dropout * 100)):02d}"

    @classmethod
    def parse(cls, name: str) -> "Architecture":
        """Inverse of `name`."""
        try:
            h, d = name[1:].split("_d")
            layers, units = h.split("x")
            return cls(int(layers), int(units), int(d) / 100.0)
        except (ValueError, IndexError) as exc:
            raise ValueError(f"not an architecture name: {name!r} (expected like h1x3000_d10)") from exc


@dataclass
class TrainSettings:
    """The original training scripts' settings (pylearn2 SGD with momentum)."""

    epochs: int = 200
    batch_size: int = 200
    momentum: float = 0.5
    learning_rate: float | None = None  # None: 5e-4 for one hidden layer, 3e-4 for two or more
    lr_scale_after_first: float = 3.0
    lr_decay: float = 0.9
    lr_min: float = 1e-5
    monitor_size: int = 5000
    seed: int = 0

    def initial_lr(self, layers: int) -> float:
        return self.learning_rate if self.learning_rate is not None else (5e-4 if layers == 1 else 3e-4)


def parameter_count(n_in: int, n_out: int, arch: Architecture) -> int:
    """Weights and biases of the network."""
    sizes = [n_in] + [arch.units] * arch.layers + [n_out]
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))


def build_model(n_in: int, n_out: int, arch: Architecture, seed: int):
    """Tanh hidden layers (Glorot uniform), linear outputs (U[-1e-4, 1e-4]); dropout before hidden layers 2..L and the output."""
    import keras

    inputs = keras.Input(shape=(n_in,), name="landmarks")
    h = inputs
    for i in range(arch.layers):
        if i > 0 and arch.dropout > 0:
            h = keras.layers.Dropout(arch.dropout, seed=seed + 100 + i, name=f"dropout_h{i + 1}")(h)
        h = keras.layers.Dense(arch.units, activation="tanh", name=f"h{i + 1}",
                               kernel_initializer=keras.initializers.GlorotUniform(seed=seed + i),
                               bias_initializer="zeros")(h)
    if arch.dropout > 0:
        h = keras.layers.Dropout(arch.dropout, seed=seed + 200, name="dropout_out")(h)
    outputs = keras.layers.Dense(n_out, activation="linear", name="targets",
                                 kernel_initializer=keras.initializers.RandomUniform(-1e-4, 1e-4, seed=seed + 50),
                                 bias_initializer="zeros")(h)
    return keras.Model(inputs, outputs, name=f"dgex_{arch.name}")


def gradient_scales(model, scale_after_first: float) -> list[float]:
    """Per-variable learning-rate multipliers: weight matrices after the first get `scale_after_first`, biases 1."""
    scales, seen_kernel = [], False
    for v in model.trainable_variables:
        if v.path.endswith("kernel"):
            scales.append(scale_after_first if seen_kernel else 1.0)
            seen_kernel = True
        else:
            scales.append(1.0)
    return scales


def predict(model, X: np.ndarray, batch: int = 4096) -> np.ndarray:
    """Inference in batches, float32."""
    out = [np.asarray(model(X[s : s + batch], training=False)) for s in range(0, len(X), batch)]
    return np.concatenate(out).astype(np.float32) if out else np.zeros((0, model.output_shape[-1]), np.float32)


# --------------------------------------------------------------------------- model files
def save_model(model, path: str | os.PathLike) -> None:
    """Save a .keras file atomically and byte-reproducibly (fixed zip times, no save date, no HDF5 timestamps)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        raw = tmp.with_name(tmp.name + ".raw.keras")
        try:
            with _h5_without_timestamps():
                model.save(raw)
            with zipfile.ZipFile(raw) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as dst:
                for name in sorted(src.namelist()):
                    data = src.read(name)
                    if name == "metadata.json":
                        meta = json.loads(data)
                        meta.pop("date_saved", None)
                        data = json.dumps(meta, sort_keys=True).encode()
                    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
                    info.compress_type = zipfile.ZIP_DEFLATED
                    info.external_attr = 0o644 << 16
                    dst.writestr(info, data)
        finally:
            if raw.exists():
                raw.unlink()


def load_model(path: str | os.PathLike):
    """Load a model file this workflow wrote, with Keras' safe mode on (no arbitrary code runs)."""
    import keras

    path = Path(path)
    if not zipfile.is_zipfile(path):
        raise InputError(f"{path}: not a .keras model file")
    try:
        return keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:
        raise InputError(f"{path}: cannot load model safely ({type(exc).__name__}: {exc})") from exc


# --------------------------------------------------------------------------- training
@dataclass
class EvalSet:
    """A named evaluation set (landmarks X, targets Y)."""

    name: str
    X: np.ndarray
    Y: np.ndarray


@dataclass
class TrainState:
    """What a checkpoint holds besides the variables."""

    epoch: int = 0
    lr: float = 0.0
    prev_monitor_mae: float = math.inf
    best: dict = field(default_factory=dict)  # criterion -> {"epoch", "mae"}
    history: list = field(default_factory=list)


class Progress:
    """A terminal progress bar (only on a TTY) plus one log line per epoch."""

    def __init__(self, total: int, label: str):
        self.total, self.label = total, label
        self.tty = sys.stderr.isatty()

    def update(self, done: int, extra: str = "") -> None:
        if self.tty:
            width = 30
            filled = int(width * done / max(1, self.total))
            sys.stderr.write(f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] {done}/{self.total} {extra}")
            sys.stderr.flush()
            if done >= self.total:
                sys.stderr.write("\n")


class Trainer:
    """Mini-batch SGD with momentum, per-layer learning-rate scales, epoch-wise decay, best-model tracking, checkpoints."""

    def __init__(self, arch: Architecture, settings: TrainSettings, X_tr: np.ndarray, Y_tr: np.ndarray,
                 eval_sets: list[EvalSet], criteria: dict[str, str], ckpt_dir: str | os.PathLike):
        import keras
        import tensorflow as tf

        self.tf, self.keras = tf, keras
        self.arch, self.s = arch, settings
        self.X_tr, self.Y_tr = X_tr, Y_tr
        self.eval_sets = {e.name: e for e in eval_sets}
        self.criteria = {k: v for k, v in criteria.items() if v in self.eval_sets}  # criterion -> eval set name
        self.ckpt_dir = Path(ckpt_dir)
        keras.utils.set_random_seed(settings.seed)
        self.model = build_model(X_tr.shape[1], Y_tr.shape[1], arch, settings.seed)
        self.opt = keras.optimizers.SGD(learning_rate=settings.initial_lr(arch.layers), momentum=settings.momentum)
        self.opt.build(self.model.trainable_variables)
        self.scales = gradient_scales(self.model, settings.lr_scale_after_first)
        self.best_weights: dict[str, list[np.ndarray]] = {}
        self.state = TrainState(lr=settings.initial_lr(arch.layers))
        rng = np.random.default_rng(settings.seed)
        self.monitor_idx = np.sort(rng.choice(len(X_tr), min(settings.monitor_size, len(X_tr)), replace=False))
        self._step = self._make_step()

    def _make_step(self) -> Callable:
        tf = self.tf
        model, opt, scales = self.model, self.opt, self.scales
        variables = model.trainable_variables

        @tf.function(reduce_retracing=True)
        def step(x, y):
            with tf.GradientTape() as tape:
                y_hat = model(x, training=True)
                # sum over targets of the squared error, averaged over the batch
                loss = tf.reduce_mean(tf.reduce_sum(tf.square(y - y_hat), axis=1))
            grads = tape.gradient(loss, variables)
            grads = [g * s if s != 1.0 else g for g, s in zip(grads, scales)]
            opt.apply(grads, variables)
            return loss

        return step

    # ---- checkpoints
    def _ckpt_files(self) -> tuple[Path, Path]:
        return self.ckpt_dir / "checkpoint.npz", self.ckpt_dir / "checkpoint.json"

    def save_checkpoint(self) -> None:
        """Variables, optimizer slots, best weights and state, written atomically (npz first, json last)."""
        npz, js = self._ckpt_files()
        arrays = {f"model_{i}": np.asarray(v) for i, v in enumerate(self.model.variables)}  # incl. dropout seed states
        arrays |= {f"opt_{i}": np.asarray(v) for i, v in enumerate(self.opt.variables)}
        for crit, ws in self.best_weights.items():
            arrays |= {f"best_{crit}_{i}": w for i, w in enumerate(ws)}
        with atomic_path(npz) as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, **arrays)
        state = asdict(self.state) | {"architecture": asdict(self.arch), "settings": asdict(self.s)}
        with atomic_path(js) as tmp:
            tmp.write_text(json.dumps(state, indent=1, sort_keys=True, default=float))

    def try_resume(self) -> bool:
        """Restore the last checkpoint if one exists for the same architecture and settings."""
        npz, js = self._ckpt_files()
        if not (npz.exists() and js.exists()):
            return False
        try:
            state = json.loads(js.read_text())
            if state["architecture"] != asdict(self.arch) or state["settings"] != json.loads(json.dumps(asdict(self.s))):
                log.warning("checkpoint in %s was made with other settings; starting afresh", self.ckpt_dir)
                return False
            with np.load(npz) as z:
                for i, v in enumerate(self.model.variables):
                    v.assign(z[f"model_{i}"])
                for i, v in enumerate(self.opt.variables):
                    v.assign(z[f"opt_{i}"])
                for crit in self.criteria:
                    keys = sorted((k for k in z.files if k.startswith(f"best_{crit}_")), key=lambda k: int(k.rsplit("_", 1)[1]))
                    if keys:
                        self.best_weights[crit] = [z[k] for k in keys]
        except (OSError, ValueError, KeyError, json.JSONDecodeError, zipfile.BadZipFile) as exc:
            raise InputError(f"{self.ckpt_dir}: corrupt checkpoint ({type(exc).__name__}: {exc}); delete it to restart training") from exc
        self.state = TrainState(**{k: state[k] for k in asdict(TrainState()).keys()})
        log.info("resumed from checkpoint after epoch %d", self.state.epoch)
        return True

    # ---- the loop
    def mae(self, X: np.ndarray, Y: np.ndarray) -> float:
        return float(np.abs(predict(self.model, X) - Y).mean(dtype=np.float64))

    def run_epoch(self, epoch: int) -> float:
        tf = self.tf
        n, bs = len(self.X_tr), self.s.batch_size
        order = np.random.default_rng([self.s.seed, epoch]).permutation(n)
        self.opt.learning_rate.assign(self.state.lr)
        prog = Progress(n, f"epoch {epoch}")
        loss = tf.constant(0.0)
        for s in range(0, n, bs):
            idx = order[s : s + bs]
            loss = self._step(tf.constant(self.X_tr[idx]), tf.constant(self.Y_tr[idx]))
            prog.update(min(n, s + bs))
        return float(loss)

    def fit(self, history_path: str | os.PathLike, on_epoch: Callable[[dict], None] | None = None) -> TrainState:
        """Train to `epochs`, resuming from a checkpoint; return the final state."""
        self.try_resume()
        for epoch in range(self.state.epoch + 1, self.s.epochs + 1):
            t0 = time.time()
            self.run_epoch(epoch)
            row = {"epoch": epoch, "learning_rate": self.state.lr}
            row["train_monitor_mae"] = self.mae(self.X_tr[self.monitor_idx], self.Y_tr[self.monitor_idx])
            for name, e in self.eval_sets.items():
                row[f"{name}_mae"] = self.mae(e.X, e.Y)
            row["seconds"] = round(time.time() - t0, 3)
            # the original: shrink the learning rate when the training-monitor error rose
            if row["train_monitor_mae"] > self.state.prev_monitor_mae:
                self.state.lr = max(self.state.lr * self.s.lr_decay, self.s.lr_min)
            self.state.prev_monitor_mae = row["train_monitor_mae"]
            for crit, set_name in self.criteria.items():
                v = row[f"{set_name}_mae"]
                if crit not in self.state.best or v < self.state.best[crit]["mae"]:
                    self.state.best[crit] = {"epoch": epoch, "mae": v}
                    self.best_weights[crit] = [np.asarray(w) for w in self.model.weights]
            self.state.history.append(row)
            self.state.epoch = epoch
            self.save_checkpoint()
            self.write_history(history_path)
            log.info("epoch %d: %s", epoch, ", ".join(f"{k}={v:.5g}" for k, v in row.items() if k != "epoch"))
            if on_epoch:
                on_epoch(row)
        if not self.state.history:
            raise RuntimeError("training ran no epoch")
        return self.state

    def write_history(self, path: str | os.PathLike) -> None:
        import pandas as pd

        write_tsv(path, pd.DataFrame(self.state.history), float_format="%.6f")

    def best_model(self, criterion: str):
        """A copy of the network with the weights that scored best on `criterion`."""
        model = build_model(self.X_tr.shape[1], self.Y_tr.shape[1], self.arch, self.s.seed)
        weights = self.best_weights.get(criterion)
        if weights is None:
            raise KeyError(f"no best model for criterion {criterion!r}")
        model.set_weights(weights)
        return model
