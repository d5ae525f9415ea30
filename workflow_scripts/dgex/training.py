"""How a D-GEX network is trained: the settings, the run options, the schedule, the device and its memory check."""
from __future__ import annotations

import logging
import math
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field, fields

import numpy as np

from .architecture import Architecture
from .io import InputError

log = logging.getLogger(__name__)

PRECISIONS = ("float32", "mixed_bfloat16")


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
        """The settings among a job's dgex params or config section (other keys: architecture, grid, run options)."""
        return cls(seed=seed, **{f.name: dgex[f.name] for f in fields(cls) if f.name != "seed" and f.name in dgex})


# dgex settings that say where and how to run, not what to compute: they reach the job outside its params, so that
# changing them does not retrain
RUN_OPTIONS = ("distribute", "memory_limit_gb", "gpus", "gpu_pool_dir")
# the architecture grid: each training job gets its own architecture (its wildcard), not the grid
GRID = ("layers", "units", "dropout")


@dataclass(frozen=True)
class RunOptions:
    """Where and how a training job runs: GPUs from the machine's pool, MirroredStrategy, a device memory limit."""

    distribute: bool = False
    memory_limit_gb: float | None = None
    gpus: int | None = None
    gpu_pool_dir: str | None = None

    @classmethod
    def from_config(cls, dgex: dict) -> "RunOptions":
        """The run options of a dgex config section (defaults where absent)."""
        return cls(bool(dgex.get("distribute", False)), dgex.get("memory_limit_gb"), dgex.get("gpus"), dgex.get("gpu_pool_dir"))


def learning_rate_of(setting: float | list[float] | None, layers: int) -> float | None:
    """dgex.learning_rate of a network with `layers` hidden layers: the number, the list's entry for that depth (its
    last for deeper ones), or null (the trainer's default: the paper's 5e-4 for one hidden layer, 3e-4 for more)."""
    return float(setting[min(layers, len(setting)) - 1]) if isinstance(setting, list) else setting


def training_params(dgex: dict, arch: Architecture) -> dict:
    """One training job's params: its own architecture, and the training settings with the learning rate of its depth
    (not the grid, not run options), so an edit reruns exactly the jobs it changes."""
    settings = {k: v for k, v in dgex.items() if k not in RUN_OPTIONS + GRID}
    settings["learning_rate"] = learning_rate_of(dgex["learning_rate"], arch.layers)
    return settings | {"architecture": {"layers": arch.layers, "units": arch.units, "dropout": arch.dropout}}


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


def device_memory(limit_gb: float | None = None) -> tuple[int, str]:
    """(bytes available, what) for training: `limit_gb` if set, else the first visible GPU's memory, else free host RAM."""
    if limit_gb is not None:
        return int(limit_gb * 1e9), f"dgex.memory_limit_gb={limit_gb}"
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        gpu = (os.environ.get("CUDA_VISIBLE_DEVICES") or "0").split(",")[0].strip()  # nvidia-smi ignores that variable
        try:
            out = subprocess.run(["nvidia-smi", "-i", gpu, "--query-gpu=memory.total", "--format=csv,noheader,nounits"],
                                 capture_output=True, text=True, timeout=30, check=True).stdout.split()
            return int(float(out[0]) * 2**20), f"GPU {gpu} memory (nvidia-smi)"
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
