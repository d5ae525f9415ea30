"""D-GEX: the multi-task feedforward network of the paper (section 2.3), its training loop, and model files."""
from __future__ import annotations

import json
import logging
import math
import os
import subprocess
import sys
import time
import zipfile
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Callable

import numpy as np

from .architecture import Architecture, host_extra_bytes, memory_estimate, parameter_count
from .io import InputError, atomic_path, write_tsv
from .reproducible import untimed_h5_datasets

log = logging.getLogger(__name__)

PRECISIONS = ("float32", "mixed_bfloat16")
STEPS_PER_CALL = 25  # SGD steps per compiled call; only sets how often the progress bar moves
CHECKPOINT_FORMAT = 2


@dataclass
class TrainSettings:
    """The original training scripts' settings (pylearn2 SGD with momentum), plus how the arithmetic is run."""

    epochs: int = 200
    batch_size: int = 200
    momentum: float = 0.5
    learning_rate: float | None = None  # None: 5e-4 for one hidden layer, 3e-4 for two or more
    lr_scale_after_first: float = 3.0
    lr_decay: float = 0.9
    lr_min: float = 1e-5
    monitor_size: int = 5000
    seed: int = 0
    precision: str = "float32"  # or mixed_bfloat16: bfloat16 products, float32 weights and updates
    jit_compile: bool = False  # XLA-compile the training loop (changes rounding, so it is part of the settings)

    def __post_init__(self):
        checks = {
            "epochs": self.epochs >= 1, "batch_size": self.batch_size >= 1, "momentum": 0 <= self.momentum < 1,
            "learning_rate": self.learning_rate is None or self.learning_rate > 0,
            "lr_scale_after_first": self.lr_scale_after_first > 0, "lr_decay": 0 < self.lr_decay <= 1,
            "lr_min": self.lr_min >= 0, "monitor_size": self.monitor_size >= 1, "precision": self.precision in PRECISIONS,
        }
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            raise ValueError("dgex: invalid setting(s) " + ", ".join(f"{k}={getattr(self, k)!r}" for k in bad))

    def initial_lr(self, layers: int) -> float:
        return self.learning_rate if self.learning_rate is not None else (5e-4 if layers == 1 else 3e-4)

    @classmethod
    def from_config(cls, dgex: dict, seed: int) -> "TrainSettings":
        """The settings of a dgex config section (its other keys: the grid and the run options), with a job's seed."""
        return cls(seed=seed, **{f.name: dgex[f.name] for f in fields(cls) if f.name != "seed" and f.name in dgex})


# dgex settings that say where and how to run, not what to compute: they reach the job outside its params, so that
# changing them does not retrain
RUN_OPTIONS = ("distribute", "memory_limit_gb")


@dataclass(frozen=True)
class RunOptions:
    """Where and how a training job runs: MirroredStrategy over the GPUs, and a device memory limit for the check."""

    distribute: bool = False
    memory_limit_gb: float | None = None

    @classmethod
    def from_config(cls, dgex: dict) -> "RunOptions":
        """The run options of a dgex config section (defaults where absent)."""
        return cls(bool(dgex.get("distribute", False)), dgex.get("memory_limit_gb"))


def training_params(dgex: dict) -> dict:
    """The dgex config section without its run options: a training job's params (an edit reruns training)."""
    return {k: v for k, v in dgex.items() if k not in RUN_OPTIONS}


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


# --------------------------------------------------------------------------- memory
def device_memory(limit_gb: float | None = None) -> tuple[int, str]:
    """(bytes available, what) for training: `limit_gb` if set, else the first GPU's memory, else free host RAM."""
    if limit_gb is not None:
        return int(limit_gb * 1e9), f"dgex.memory_limit_gb={limit_gb}"
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        try:
            out = subprocess.run(["nvidia-smi", "--query-gpu=memory.total", "--format=csv,noheader,nounits"],
                                 capture_output=True, text=True, timeout=30, check=True).stdout.split()
            return int(float(out[0]) * 2**20), "GPU 0 memory (nvidia-smi)"
        except (OSError, subprocess.SubprocessError, ValueError, IndexError):
            return 0, "GPU memory (unknown: nvidia-smi not usable)"
    import psutil

    return int(psutil.virtual_memory().available), "available host memory"


def check_memory(est: dict[str, int], available: int, what: str, label: str) -> None:
    """Raise a clear error when the estimate does not fit in `available` bytes (0 means unknown: only warn)."""
    need = sum(est.values())
    items = ", ".join(f"{k} {v / 1e9:.2f}" for k, v in est.items())
    if available <= 0:
        log.warning("%s needs about %.2f GB (%s); %s, so it is not checked", label, need / 1e9, items, what)
        return
    if need > available:
        raise MemoryError(f"{label} needs about {need / 1e9:.2f} GB ({items} GB) but {what} is {available / 1e9:.2f} GB; "
                          "use more target partitions (partitions.n_parts), fewer hidden units, or a larger device")


# --------------------------------------------------------------------------- model files
def _renumber_shared_objects(config):
    """Replace Keras' shared_object_id values (Python id()s, new every run) by 1, 2, ... in order of appearance."""
    ids: dict[int, int] = {}

    def walk(x):
        if isinstance(x, dict):
            return {k: ids.setdefault(v, len(ids) + 1) if k == "shared_object_id" else walk(v) for k, v in x.items()}
        if isinstance(x, list):
            return [walk(v) for v in x]
        return x

    return walk(config)


def save_model(model, path: str | os.PathLike) -> None:
    """Save a .keras file atomically and byte-reproducibly (fixed zip times, no save date, no HDF5 timestamps)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        raw = tmp.with_name(tmp.name + ".raw.keras")
        try:
            with untimed_h5_datasets():
                model.save(raw)
            with zipfile.ZipFile(raw) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as dst:
                for name in sorted(src.namelist()):
                    data = src.read(name)
                    if name == "metadata.json":
                        meta = json.loads(data)
                        meta.pop("date_saved", None)
                        data = json.dumps(meta, sort_keys=True).encode()
                    elif name == "config.json":
                        data = json.dumps(_renumber_shared_objects(json.loads(data))).encode()
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
def write_npz(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> None:
    """An uncompressed .npz (np.load reads it), atomically and byte-reproducibly (fixed zip entry times)."""
    with atomic_path(path) as tmp:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
            for name, a in arrays.items():
                info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
                info.external_attr = 0o644 << 16
                with zf.open(info, "w", force_zip64=True) as fh:
                    np.lib.format.write_array(fh, np.ascontiguousarray(a), allow_pickle=False)


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
    """A terminal progress bar (only when stderr is a terminal)."""

    def __init__(self, total: int, label: str, stream=None):
        self.total, self.label = total, label
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.t0 = time.time()

    def update(self, done: int, extra: str = "") -> None:
        if not self.tty:
            return
        width = 30
        filled = int(width * done / max(1, self.total))
        rate = done / max(1e-9, time.time() - self.t0)
        self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] {done}/{self.total} "
                          f"{rate:,.0f} profiles/s {extra}")
        if done >= self.total:
            self.stream.write("\n")
        self.stream.flush()


def next_learning_rate(lr: float, monitor_mae: float, prev_monitor_mae: float, s: TrainSettings) -> float:
    """The original's epoch-wise schedule: x lr_decay when the training-monitor MAE rose, floored at lr_min."""
    return max(lr * s.lr_decay if monitor_mae > prev_monitor_mae else lr, s.lr_min)


def check_finite(name: str, a: np.ndarray) -> None:
    """Raise InputError naming the set when it holds NaN or infinite values."""
    bad = ~np.isfinite(a)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        raise InputError(f"{name}: {int(bad.sum())} NaN/infinite value(s) in {len(rows)} profile(s) "
                         f"(first rows {rows[:5].tolist()}); D-GEX cannot train or evaluate on them")


def select_strategy(distribute: bool):
    """MirroredStrategy over all visible GPUs when asked (and more than one device), else TensorFlow's default."""
    import tensorflow as tf

    if distribute:
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")]
        if len(devices) > 1:
            return tf.distribute.MirroredStrategy(devices)
        log.info("dgex.distribute: only one device (%s); training on it without MirroredStrategy", devices)
    return tf.distribute.get_strategy()


class Trainer:
    """Mini-batch SGD with momentum, per-layer learning-rate scales, epoch-wise decay, best-model tracking, checkpoints."""

    def __init__(self, arch: Architecture, settings: TrainSettings, X_tr: np.ndarray, Y_tr: np.ndarray,
                 eval_sets: list[EvalSet], criteria: dict[str, str], ckpt_dir: str | os.PathLike,
                 distribute: bool = False, memory_limit_gb: float | None = None, label: str | None = None):
        import keras
        import tensorflow as tf

        self.tf, self.keras = tf, keras
        self.arch, self.s = arch, settings
        if X_tr.ndim != 2 or Y_tr.ndim != 2 or len(X_tr) != len(Y_tr) or len(X_tr) == 0:
            raise InputError(f"training data: landmarks {X_tr.shape} and targets {Y_tr.shape} must be matching non-empty matrices")
        for name, a in [("training landmarks", X_tr), ("training targets", Y_tr)] + \
                [(f"{e.name} {k}", a) for e in eval_sets for k, a in (("landmarks", e.X), ("targets", e.Y))]:
            check_finite(name, a)
        self.X_tr = np.ascontiguousarray(X_tr, dtype=np.float32)
        self.Y_tr = np.ascontiguousarray(Y_tr, dtype=np.float32)
        self.eval_sets = {e.name: e for e in eval_sets}
        self.criteria = {k: v for k, v in criteria.items() if v in self.eval_sets}  # criterion -> eval set name
        self.ckpt_dir = Path(ckpt_dir)
        n_in, n_out = X_tr.shape[1], Y_tr.shape[1]
        self.label = label or f"D-GEX {arch.name}"
        self.n_params = parameter_count(n_in, n_out, arch)
        n_eval = settings.monitor_size + sum(len(e.X) for e in eval_sets)
        est = memory_estimate(n_in, n_out, arch, settings.batch_size, len(X_tr), n_eval, settings.precision)
        available, what = device_memory(memory_limit_gb)
        if memory_limit_gb is None and not tf.config.list_physical_devices("GPU"):
            est["host_copies"] = host_extra_bytes(n_in, n_out, arch)
        log.info("%s: %d landmarks -> %d targets, %s parameters; needs about %.2f GB (%s)", self.label, n_in, n_out,
                 f"{self.n_params:,}", sum(est.values()) / 1e9, ", ".join(f"{k} {v / 1e9:.2f} GB" for k, v in est.items()))
        check_memory(est, available, what, self.label)

        self.strategy = select_strategy(distribute)
        self.n_replicas = self.strategy.num_replicas_in_sync
        if settings.jit_compile and self.n_replicas > 1:
            log.warning("dgex.jit_compile is ignored with MirroredStrategy")
        keras.utils.set_random_seed(settings.seed)
        with self.strategy.scope():
            self.model = build_model(n_in, n_out, arch, settings.seed)
            self.vars = [v.value for v in self.model.trainable_variables]  # kernel, bias per layer (tf.Variables)
            self.moms = [tf.Variable(tf.zeros(v.shape, tf.float32), trainable=False, name=f"momentum_{i}")
                         for i, v in enumerate(self.vars)]
        self.scales = gradient_scales(self.model, settings.lr_scale_after_first)
        self.best_weights: dict[str, list[np.ndarray]] = {}
        self.state = TrainState(lr=settings.initial_lr(arch.layers))
        rng = np.random.default_rng(settings.seed)
        self.monitor_idx = np.sort(rng.choice(len(X_tr), min(settings.monitor_size, len(X_tr)), replace=False))
        self._put_data_on_device()
        self._run_steps = self._make_run_steps()
        self._forward = tf.function(self._forward_eval, reduce_retracing=True)

    # ---- device data
    def _put_data_on_device(self) -> None:
        tf = self.tf
        with self.strategy.scope():
            if self.n_replicas > 1:
                def per_replica(a):
                    return self.strategy.experimental_distribute_values_from_function(lambda ctx: tf.constant(a))
                self.X_dev, self.Y_dev = per_replica(self.X_tr), per_replica(self.Y_tr)
            else:
                self.X_dev, self.Y_dev = tf.constant(self.X_tr), tf.constant(self.Y_tr)

    # ---- the network's arithmetic
    def _compute_dtype(self):
        return self.tf.bfloat16 if self.s.precision == "mixed_bfloat16" else self.tf.float32

    def _forward_train(self, x, seed):
        """Training forward pass: inverted dropout (stateless, seeded by step) before hidden layers 2..L and the output."""
        tf = self.tf
        cdt, rate, n_layers = self._compute_dtype(), self.arch.dropout, self.arch.layers + 1
        h = tf.cast(x, cdt)
        for i in range(n_layers):
            W, b = self.vars[2 * i], self.vars[2 * i + 1]
            if i > 0 and rate > 0:
                keep = tf.random.stateless_uniform(tf.shape(h), seed=tf.random.experimental.stateless_fold_in(seed, i)) >= rate
                h = tf.where(keep, h * tf.cast(1.0 / (1.0 - rate), cdt), tf.zeros_like(h))
            z = tf.matmul(h, tf.cast(W, cdt)) + tf.cast(b, cdt)
            h = tf.tanh(z) if i < n_layers - 1 else z
        return tf.cast(h, tf.float32)

    def _forward_eval(self, x):
        tf = self.tf
        cdt, n_layers = self._compute_dtype(), self.arch.layers + 1
        h = tf.cast(x, cdt)
        for i in range(n_layers):
            z = tf.matmul(h, tf.cast(self.vars[2 * i], cdt)) + tf.cast(self.vars[2 * i + 1], cdt)
            h = tf.tanh(z) if i < n_layers - 1 else z
        return tf.cast(h, tf.float32)

    def _make_run_steps(self) -> Callable:
        """A compiled loop of SGD steps over rows of the epoch's batch-index matrix, on device-resident data."""
        tf = self.tf
        strategy, n_rep, s = self.strategy, self.n_replicas, self.s
        momentum = tf.constant(s.momentum, tf.float32)
        scales = [tf.constant(c, tf.float32) for c in self.scales]
        base_seed = tf.constant([s.seed, 0], tf.int64)  # dropout masks: stateless, from (seed, epoch, step, replica)

        def apply_update(distribution, grads, lr):
            # pylearn2's Momentum rule, fused: inc = momentum * inc - lr * scale * grad; param += inc
            def upd(var, grad, mom, lr_v):
                return tf.raw_ops.ResourceApplyKerasMomentum(var=var.handle, accum=mom.handle, lr=lr_v, grad=grad,
                                                             momentum=momentum, use_nesterov=False)
            for v, g, m, c in zip(self.vars, grads, self.moms, scales):
                distribution.extended.update(v, upd, args=(g, m, lr * c), group=False)

        def replica_step(X, Y, idx, lr, seed):
            ctx = tf.distribute.get_replica_context()
            n_rows = tf.cast(tf.shape(idx)[0], tf.float32)  # the global batch: the loss is its mean
            if n_rep > 1:
                idx = idx[ctx.replica_id_in_sync_group :: n_rep]
                seed = tf.random.experimental.stateless_fold_in(seed, 1000 + ctx.replica_id_in_sync_group)
            x, y = tf.gather(X, idx), tf.gather(Y, idx)
            with tf.GradientTape() as tape:
                y_hat = self._forward_train(x, seed)
                # the original cost: squared error summed over targets, averaged over the batch
                loss = tf.reduce_sum(tf.square(y - y_hat)) / n_rows
            grads = tape.gradient(loss, self.vars)
            if n_rep > 1:
                grads = ctx.all_reduce(tf.distribute.ReduceOp.SUM, grads)
                loss = ctx.all_reduce(tf.distribute.ReduceOp.SUM, loss)
            ctx.merge_call(apply_update, args=(grads, lr))
            return loss

        def run_steps(X, Y, order, start, count, lr, epoch, step_base):
            loss = tf.constant(0.0, tf.float32)
            epoch_seed = tf.random.experimental.stateless_fold_in(base_seed, epoch)
            for i in tf.range(start, start + count):
                seed = tf.random.experimental.stateless_fold_in(epoch_seed, step_base + i)
                out = strategy.run(replica_step, args=(X, Y, order[i], lr, seed))
                loss = strategy.reduce(tf.distribute.ReduceOp.MEAN, out, axis=None) if n_rep > 1 else out
            return loss

        return tf.function(run_steps, jit_compile=bool(s.jit_compile and n_rep == 1), reduce_retracing=True)

    # ---- checkpoints
    def checkpoint_path(self) -> Path:
        return self.ckpt_dir / "checkpoint.npz"

    def save_checkpoint(self) -> None:
        """Variables, momentum, best weights and state (as JSON inside), one atomically written file."""
        state = asdict(self.state) | {"format": CHECKPOINT_FORMAT, "architecture": asdict(self.arch), "settings": asdict(self.s)}
        arrays = {"state_json": np.frombuffer(json.dumps(state, sort_keys=True, default=float).encode(), dtype=np.uint8)}
        arrays |= {f"var_{i}": np.asarray(v) for i, v in enumerate(self.vars)}
        arrays |= {f"mom_{i}": np.asarray(v) for i, v in enumerate(self.moms)}
        for crit, ws in self.best_weights.items():
            arrays |= {f"best_{crit}_{i}": w for i, w in enumerate(ws)}
        write_npz(self.checkpoint_path(), arrays)

    def try_resume(self) -> bool:
        """Restore the last checkpoint if one exists for the same architecture and settings; corrupt ones are errors."""
        path = self.checkpoint_path()
        if not path.exists():
            return False
        n_vars = len(self.vars)
        try:
            with np.load(path, allow_pickle=False) as z:
                state = json.loads(z["state_json"].tobytes().decode())
                # the epoch count does not change the path up to an epoch: a longer run continues a shorter one
                ours = json.loads(json.dumps(asdict(self.s) | {"epochs": None}))
                if state.get("format") != CHECKPOINT_FORMAT or state["architecture"] != asdict(self.arch) or \
                        state["settings"] | {"epochs": None} != ours or state["epoch"] > self.s.epochs:
                    log.warning("checkpoint %s was made with other settings (or more epochs); starting afresh", path)
                    return False
                arrays = {k: z[k] for k in z.files if k != "state_json"}
            expected = {f"var_{i}" for i in range(n_vars)} | {f"mom_{i}" for i in range(n_vars)}
            expected |= {f"best_{c}_{i}" for c in state["best"] for i in range(n_vars)}
            if set(arrays) != expected:
                raise ValueError(f"arrays {sorted(set(arrays) ^ expected)[:4]} missing or unexpected")
            for k, a in arrays.items():
                shape = tuple(self.vars[int(k.rsplit('_', 1)[1])].shape)
                if a.shape != shape or a.dtype != np.float32 or not np.isfinite(a).all():
                    raise ValueError(f"array {k}: {a.dtype}{a.shape} (expected float32{shape}, finite)")
            new_state = TrainState(**{k: state[k] for k in asdict(TrainState())})
        except (OSError, ValueError, KeyError, TypeError, EOFError, json.JSONDecodeError, zipfile.BadZipFile) as exc:
            raise InputError(f"{path}: corrupt checkpoint ({type(exc).__name__}: {exc}); delete it to restart training") from exc
        for i in range(n_vars):
            self.vars[i].assign(arrays[f"var_{i}"])
            self.moms[i].assign(arrays[f"mom_{i}"])
        self.best_weights = {c: [arrays[f"best_{c}_{i}"] for i in range(n_vars)] for c in new_state.best}
        self.state = new_state
        log.info("resumed from checkpoint %s after epoch %d", path, self.state.epoch)
        return True

    def remove_checkpoint(self) -> None:
        self.checkpoint_path().unlink(missing_ok=True)

    # ---- the loop
    def predict(self, X: np.ndarray, batch: int = 4096) -> np.ndarray:
        """Predictions of the current weights, float32."""
        out = [self._forward(self.tf.constant(X[s : s + batch])).numpy() for s in range(0, len(X), batch)]
        return np.concatenate(out) if out else np.zeros((0, self.Y_tr.shape[1]), np.float32)

    def mae(self, X: np.ndarray, Y: np.ndarray, batch: int = 4096) -> float:
        """Mean absolute error over all profiles and targets (accumulated in float64)."""
        total = 0.0
        for s in range(0, len(X), batch):
            total += float(np.abs(self._forward(self.tf.constant(X[s : s + batch])).numpy() - Y[s : s + batch]).sum(dtype=np.float64))
        return total / Y.size

    def epoch_order(self, epoch: int) -> np.ndarray:
        """The epoch's seeded shuffle of the training profiles."""
        return np.random.default_rng([self.s.seed, epoch]).permutation(len(self.X_tr)).astype(np.int32)

    def run_epoch(self, epoch: int) -> float:
        """One pass over the training set in mini-batches (the last one smaller, as in pylearn2); return the last loss."""
        tf = self.tf
        n, bs = len(self.X_tr), self.s.batch_size
        order = self.epoch_order(epoch)
        n_full = n // bs
        lr = tf.constant(self.state.lr, tf.float32)
        ep = tf.constant(epoch, tf.int64)
        prog = Progress(n, f"{self.label} epoch {epoch}/{self.s.epochs}")
        loss = None
        if n_full:
            full = tf.constant(order[: n_full * bs].reshape(n_full, bs))
            for start in range(0, n_full, STEPS_PER_CALL):
                count = min(STEPS_PER_CALL, n_full - start)
                loss = self._run_steps(self.X_dev, self.Y_dev, full, tf.constant(start), tf.constant(count), lr, ep, tf.constant(0))
                prog.update((start + count) * bs)
        if n % bs:
            rest = tf.constant(order[n_full * bs :].reshape(1, -1))
            loss = self._run_steps(self.X_dev, self.Y_dev, rest, tf.constant(0), tf.constant(1), lr, ep, tf.constant(n_full))
            prog.update(n)
        loss = float(loss)
        if not math.isfinite(loss):
            raise FloatingPointError(f"{self.label}: training diverged in epoch {epoch} (loss {loss}); "
                                     f"lower dgex.learning_rate (now {self.state.lr:g})")
        return loss

    def fit(self, history_path: str | os.PathLike, on_epoch: Callable[[dict], None] | None = None,
            timing_path: str | os.PathLike | None = None) -> TrainState:
        """Train to `epochs`, resuming from a checkpoint; return the final state.

        history_path gets the per-epoch TSV (deterministic: it is a result); timing_path the same plus seconds per epoch.
        """
        self.try_resume()
        seconds_of: dict[int, float] = {}
        X_mon, Y_mon = self.X_tr[self.monitor_idx], self.Y_tr[self.monitor_idx]
        for epoch in range(self.state.epoch + 1, self.s.epochs + 1):
            t0 = time.time()
            self.run_epoch(epoch)
            row = {"epoch": epoch, "learning_rate": self.state.lr, "train_monitor_mae": self.mae(X_mon, Y_mon)}
            for name, e in self.eval_sets.items():
                row[f"{name}_mae"] = self.mae(e.X, e.Y)
            seconds = time.time() - t0  # in the log only: history.tsv and checkpoints must not depend on timing
            self.state.lr = next_learning_rate(self.state.lr, row["train_monitor_mae"], self.state.prev_monitor_mae, self.s)
            self.state.prev_monitor_mae = row["train_monitor_mae"]
            for crit, set_name in self.criteria.items():
                v = row[f"{set_name}_mae"]
                if crit not in self.state.best or v < self.state.best[crit]["mae"]:
                    self.state.best[crit] = {"epoch": epoch, "mae": v}
                    self.best_weights[crit] = [np.array(w) for w in self.vars]
            self.state.history.append(row)
            self.state.epoch = epoch
            self.save_checkpoint()
            self.write_history(history_path)
            seconds_of[epoch] = round(seconds, 3)
            if timing_path:
                self.write_history(timing_path, seconds_of)
            log.info("%s epoch %d: %s, %.3f s", self.label, epoch,
                     ", ".join(f"{k}={v:.5g}" for k, v in row.items() if k != "epoch"), seconds)
            if on_epoch:
                on_epoch(row)
        if not self.state.history:
            raise RuntimeError("training ran no epoch")
        self.write_history(history_path)
        return self.state

    def write_history(self, path: str | os.PathLike, seconds: dict[int, float] | None = None) -> None:
        """The per-epoch table; with `seconds`, a seconds column (blank for epochs run before a resume)."""
        import pandas as pd

        columns = ["epoch", "learning_rate", "train_monitor_mae"] + [f"{name}_mae" for name in self.eval_sets]
        df = pd.DataFrame(self.state.history, columns=columns)  # checkpoints store rows with sorted keys
        if seconds is not None:
            df["seconds"] = df["epoch"].map(seconds)
        write_tsv(path, df, float_format="%.6f")

    def weights(self) -> list[np.ndarray]:
        """The current trainable weights (kernel, bias per layer)."""
        return [np.array(v) for v in self.vars]

    def best_model(self, criterion: str):
        """A copy of the network with the weights that scored best on `criterion`."""
        weights = self.best_weights.get(criterion)
        if weights is None:
            raise KeyError(f"no best model for criterion {criterion!r}")
        model = build_model(self.X_tr.shape[1], self.Y_tr.shape[1], self.arch, self.s.seed)
        for v, w in zip(model.trainable_variables, weights):
            v.assign(w)
        return model
