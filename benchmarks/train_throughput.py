"""D-GEX training throughput vs NumPy's float32 matrix-product rate at the same shapes, measured in the same run.

Usage: .venv/bin/python benchmarks/train_throughput.py [--archs h1x3000_d10,h3x9000_d10] [--targets 4760]
       [--steps 30,4] [--jit both|on|off] [--keras-fit] [--threads 2]
FLOP per trained profile = 6 x parameters (forward 2P, backward 4P). The reference is NumPy (BLAS) timing the three
products every layer needs per batch (forward X@W, weight gradient X.T@D, input gradient D@W.T) at batch size 200.
A second reference, TensorFlow's own MatMul at the same products, shows which BLAS is the faster floor on this CPU
(oneDNN can beat OpenBLAS, and then the training loop can exceed 100% of NumPy).
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path
from typing import Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow_scripts"))

import numpy as np  # noqa: E402


def cpu_model() -> str:
    """The CPU's model name and its widest vector extension, from /proc/cpuinfo ("unknown" elsewhere)."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "unknown CPU"
    name = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), "unknown CPU")
    flags = set(next((line.split(":", 1)[1].split() for line in info.splitlines() if line.startswith("flags")), []))
    widest = next((f for f in ("amx_tile", "avx512f", "avx2") if f in flags), "no AVX2")
    return f"{name} ({widest})"


def step_operands(sizes: list[int], batch: int) -> tuple[list[tuple[np.ndarray, np.ndarray, np.ndarray]], float]:
    """Random float32 (X, W, D) per layer at one training step's shapes, and the FLOPs of their three products."""
    rng = np.random.default_rng(0)
    mats = [tuple(rng.standard_normal(shape, dtype=np.float32) for shape in ((batch, k), (k, n), (batch, n)))
            for k, n in zip(sizes[:-1], sizes[1:])]
    return mats, float(sum(3 * 2 * batch * k * n for k, n in zip(sizes[:-1], sizes[1:])))


def best_seconds(call: Callable[[], object], repeats: int) -> float:
    """The shortest wall time of `repeats` calls."""
    best = np.inf
    for _ in range(repeats):
        t = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - t)
    return best


def numpy_rate(sizes: list[int], batch: int, repeats: int = 3) -> float:
    """FLOP/s of NumPy float32 products at one training step's shapes (best of `repeats`)."""
    mats, flops = step_operands(sizes, batch)
    return flops / best_seconds(lambda: [(X @ W, X.T @ D, D @ W.T) for X, W, D in mats], repeats)


def tf_matmul_rate(sizes: list[int], batch: int, repeats: int = 3) -> float:
    """FLOP/s of TensorFlow's own float32 MatMul (oneDNN) at the same products, in one compiled call (best of `repeats`)."""
    import tensorflow as tf

    arrays, flops = step_operands(sizes, batch)
    mats = [tuple(tf.constant(a) for a in triple) for triple in arrays]

    @tf.function
    def products():
        # reduce each product to a scalar so that none of them can be pruned, at negligible cost
        return tf.add_n([tf.reduce_sum(tf.matmul(X, W)) + tf.reduce_sum(tf.matmul(X, D, transpose_a=True))
                         + tf.reduce_sum(tf.matmul(D, W, transpose_b=True)) for X, W, D in mats])

    products().numpy()  # trace and warm up
    return flops / best_seconds(lambda: products().numpy(), repeats)


def trainer_rate(arch_name: str, n_in: int, n_out: int, steps: int, batch: int, jit: bool) -> tuple[float, float]:
    """(profiles/s, seconds) of the workflow's Trainer over `steps` SGD steps (one epoch of steps x batch profiles)."""
    import tempfile

    from dgex.architecture import Architecture
    from dgex.trainer import Trainer
    from dgex.training import EvalSet, TrainSettings

    rng = np.random.default_rng(1)
    X = rng.standard_normal((steps * batch, n_in), dtype=np.float32)
    Y = rng.standard_normal((steps * batch, n_out), dtype=np.float32)
    ev = [EvalSet("geo_va", X[:10], Y[:10])]
    arch = Architecture.parse(arch_name)
    with tempfile.TemporaryDirectory() as d:
        t = Trainer(arch, TrainSettings(epochs=2, batch_size=batch, monitor_size=10, jit_compile=jit), X, Y, ev,
                    {"geo": "geo_va"}, d)
        t.run_epoch(1)  # compiles
        t0 = time.perf_counter()
        t.run_epoch(2)
        sec = time.perf_counter() - t0
    return steps * batch / sec, sec


def keras_fit_rate(arch_name: str, n_in: int, n_out: int, steps: int, batch: int) -> tuple[float, float]:
    """(profiles/s, seconds) of a plain Keras `fit` of the same network (SGD, momentum 0.5, batch 200)."""
    import keras

    from dgex.architecture import Architecture
    from dgex.network import build_model

    rng = np.random.default_rng(1)
    X = rng.standard_normal((steps * batch, n_in), dtype=np.float32)
    Y = rng.standard_normal((steps * batch, n_out), dtype=np.float32)
    model = build_model(n_in, n_out, Architecture.parse(arch_name), 0)
    model.compile(optimizer=keras.optimizers.SGD(5e-4, momentum=0.5), loss="mse")
    model.fit(X, Y, batch_size=batch, epochs=1, verbose=0)
    t0 = time.perf_counter()
    model.fit(X, Y, batch_size=batch, epochs=1, verbose=0, shuffle=True)
    sec = time.perf_counter() - t0
    return steps * batch / sec, sec


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--archs", default="h1x3000_d10,h3x9000_d10")
    ap.add_argument("--steps", default="30,4", help="SGD steps timed per architecture (comma list, matched to --archs)")
    ap.add_argument("--landmarks", type=int, default=943)
    ap.add_argument("--targets", type=int, default=4760, help="targets per network (one half of 9,520)")
    ap.add_argument("--batch", type=int, default=200)
    ap.add_argument("--jit", choices=["both", "on", "off"], default="both")
    ap.add_argument("--keras-fit", action="store_true", help="also time a plain Keras fit (the starting point)")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    a = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)

    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(a.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    from dgex.architecture import Architecture, layer_sizes, parameter_count

    archs = a.archs.split(",")
    steps = [int(s) for s in a.steps.split(",")]
    steps += [steps[-1]] * (len(archs) - len(steps))
    jits = {"both": [False, True], "on": [True], "off": [False]}[a.jit]
    print(f"# {os.cpu_count()} CPUs, {cpu_model()}, TensorFlow {tf.__version__}, NumPy {np.__version__}, GPUs: "
          f"{len(tf.config.list_physical_devices('GPU'))}; batch {a.batch}, {a.landmarks} landmarks -> {a.targets} targets")
    print(f"{'network':<13} {'variant':<14} {'params':>12} {'profiles/s':>11} {'GFLOP/s':>8} {'NumPy GFLOP/s':>14} "
          f"{'% of NumPy':>10} {'TF MatMul GFLOP/s':>17} {'% of TF MatMul':>14}")
    for arch_name, n_steps in zip(archs, steps):
        arch = Architecture.parse(arch_name)
        sizes = layer_sizes(a.landmarks, a.targets, arch)
        P = parameter_count(a.landmarks, a.targets, arch)
        variants = [("trainer" + ("+xla" if j else ""),
                     lambda j=j, arch_name=arch_name, n_steps=n_steps: trainer_rate(arch_name, a.landmarks, a.targets, n_steps,
                                                                                    a.batch, j))
                    for j in jits]
        if a.keras_fit:
            variants.insert(0, ("keras fit", lambda arch_name=arch_name, n_steps=n_steps: keras_fit_rate(arch_name, a.landmarks,
                                                                                                          a.targets, n_steps,
                                                                                                          a.batch)))
        for label, fn in variants:
            ref_before, tf_before = numpy_rate(sizes, a.batch), tf_matmul_rate(sizes, a.batch)
            rate, sec = fn()
            # the references around the measurement
            ref = (ref_before + numpy_rate(sizes, a.batch)) / 2
            tf_ref = (tf_before + tf_matmul_rate(sizes, a.batch)) / 2
            flops = 6 * P * rate
            print(f"{arch_name:<13} {label:<14} {P:>12,} {rate:>11,.0f} {flops / 1e9:>8.1f} {ref / 1e9:>14.1f} "
                  f"{100 * flops / ref:>9.0f}% {tf_ref / 1e9:>17.1f} {100 * flops / tf_ref:>13.0f}%  "
                  f"({n_steps} steps, {sec:.1f} s)", flush=True)


if __name__ == "__main__":
    main()
