"""D-GEX training throughput against the matrix products of one training step, float32 and bfloat16, in the same run.

Usage: .venv/bin/python benchmarks/train_throughput.py [--archs h1x3000_d10,h3x9000_d10] [--targets 4760]
       [--steps 30,4] [--precision float32,mixed_bfloat16] [--jit both|on|off] [--rounds 4] [--keras-fit] [--threads 2]
FLOP per trained profile: the products one SGD step runs, per layer forward X@W, weight gradient X.T@D and, except for
the first layer (the landmarks need no gradient), input gradient D@W.T: 2 x (3 x weights - landmarks x units).
The floors time exactly these products at batch 200 (bare, one compiled call), with NumPy (BLAS, float32) and with
TensorFlow's own MatMul (oneDNN) in float32 and in bfloat16. Each variant is timed in rounds that alternate the floors
and one epoch of the Trainer; the table shows the best round of each, and the same ratio from CPU time (less disturbed
by other processes on a shared machine, but it also counts threads that spin while they wait).
A third floor is memory traffic: the bare weight update of one step (float32 SGD with momentum, plus for mixed_bfloat16
the casts of the gradients and weights); "products+update" is the share of the step the products would take if both ran
at their bare rates one after the other, the ceiling for "% of own floor" on this machine.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow_scripts"))

import numpy as np  # noqa: E402


def cpu_model() -> str:
    """The CPU's model name and its matrix/vector extensions, from /proc/cpuinfo ("unknown" elsewhere)."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "unknown CPU"
    name = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), "unknown CPU")
    flags = set(next((line.split(":", 1)[1].split() for line in info.splitlines() if line.startswith("flags")), []))
    widest = next((f for f in ("avx512f", "avx2") if f in flags), "no AVX2")
    bf16 = [f for f in ("amx_bf16", "avx512_bf16") if f in flags] or ["no bf16 instructions"]
    return f"{name} ({widest}, {', '.join(bf16)})"


def step_products(sizes: list[int], batch: int) -> list[tuple[tuple[int, int], tuple[int, int], bool]]:
    """Per layer: the shapes of X (batch x in) and W (in x out), and whether the step needs the input gradient D@W.T."""
    return [((batch, k), (k, n), i > 0) for i, (k, n) in enumerate(zip(sizes[:-1], sizes[1:]))]


def step_flops(sizes: list[int], batch: int) -> float:
    """FLOPs of one SGD step's matrix products (forward, weight gradient, input gradient after the first layer)."""
    return float(sum(2 * x[0] * w[0] * w[1] * (3 if grad_in else 2) for x, w, grad_in in step_products(sizes, batch)))


def step_operands(sizes: list[int], batch: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, bool]]:
    """Random float32 (X, W, D, input gradient needed) per layer at one training step's shapes."""
    rng = np.random.default_rng(0)
    return [tuple(rng.standard_normal(s, dtype=np.float32) for s in (x, w, (batch, w[1]))) + (grad_in,)
            for x, w, grad_in in step_products(sizes, batch)]


def numpy_floor(sizes: list[int], batch: int) -> Callable[[], object]:
    """One step's products in NumPy float32 (BLAS)."""
    mats = step_operands(sizes, batch)
    return lambda: [(X @ W, X.T @ D, D @ W.T if grad_in else None) for X, W, D, grad_in in mats]


def tf_floor(sizes: list[int], batch: int, dtype: str) -> Callable[[], object]:
    """One step's products in TensorFlow's own MatMul (oneDNN) in `dtype`, one compiled call."""
    import tensorflow as tf

    mats = [tuple(tf.cast(tf.constant(a), dtype) for a in m[:3]) + (m[3],) for m in step_operands(sizes, batch)]

    @tf.function
    def products():
        # reduce each product to a scalar so that none of them can be pruned, at negligible cost
        sums = []
        for X, W, D, grad_in in mats:
            out = [tf.matmul(X, W), tf.matmul(X, D, transpose_a=True)] + ([tf.matmul(D, W, transpose_b=True)] if grad_in else [])
            sums += [tf.reduce_sum(tf.cast(p, tf.float32)) for p in out]
        return tf.add_n(sums)

    products().numpy()  # trace and warm up
    return lambda: products().numpy()


def update_floor(sizes: list[int], precision: str) -> Callable[[], object]:
    """One step's weight-sized work besides the products, bare: the fused SGD-momentum update of every float32 weight and
    bias (read weight, momentum, gradient; write weight, momentum: 20 bytes each), and for mixed_bfloat16 the two casts
    the step needs (gradient bfloat16 -> float32, weight float32 -> bfloat16: 12 bytes more)."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    half = precision == "mixed_bfloat16"
    shapes = [s for k, n in zip(sizes[:-1], sizes[1:]) for s in ((k, n), (n,))]
    ws = [tf.Variable(rng.uniform(-0.05, 0.05, s).astype(np.float32)) for s in shapes]
    moms = [tf.Variable(np.zeros(s, np.float32)) for s in shapes]
    grads = [tf.cast(tf.constant(rng.standard_normal(s, dtype=np.float32)), tf.bfloat16 if half else tf.float32)
             for s in shapes]
    halves = [tf.Variable(tf.cast(w, tf.bfloat16)) for w in ws] if half else []

    @tf.function
    def update():
        for i, (w, m, g) in enumerate(zip(ws, moms, grads)):
            tf.raw_ops.ResourceApplyKerasMomentum(var=w.handle, accum=m.handle, lr=1e-12, grad=tf.cast(g, tf.float32),
                                                  momentum=0.5, use_nesterov=False)
            if half:
                halves[i].assign(tf.cast(w, tf.bfloat16))
        return ws[0][0, 0]

    update().numpy()
    return lambda: update().numpy()


def copy_bandwidth(n_bytes: int = 2**29, repeats: int = 5) -> float:
    """Bytes/s read plus written by a NumPy copy of a large float32 array, by the copying thread's CPU time (best of
    `repeats`; CPU time, because on a shared machine the wall time also counts waits for a core)."""
    a, b = np.ones(n_bytes // 4, np.float32), np.ones(n_bytes // 4, np.float32)
    best = np.inf
    for _ in range(repeats):
        t = time.thread_time()
        np.copyto(b, a)
        best = min(best, time.thread_time() - t)
    return 2 * n_bytes / best


def trainer_epochs(arch_name: str, n_in: int, n_out: int, steps: int, batch: int, precision: str, jit: bool,
                   ckpt_dir: str) -> Callable[[], object]:
    """A call that runs one epoch (`steps` SGD steps) of the workflow's Trainer, compiled and warmed up."""
    from dgex.architecture import Architecture
    from dgex.trainer import Trainer
    from dgex.training import EvalSet, TrainSettings

    rng = np.random.default_rng(1)
    X = rng.standard_normal((steps * batch, n_in), dtype=np.float32)
    Y = rng.standard_normal((steps * batch, n_out), dtype=np.float32)
    settings = TrainSettings(epochs=1000, batch_size=batch, monitor_size=10, precision=precision, jit_compile=jit)
    t = Trainer(Architecture.parse(arch_name), settings, X, Y, [EvalSet("geo_va", X[:10], Y[:10])], {"geo": "geo_va"},
                ckpt_dir)
    epoch = iter(range(1, 10**6))
    t.run_epoch(next(epoch))  # compiles
    return lambda: t.run_epoch(next(epoch))


def keras_fit_epochs(arch_name: str, n_in: int, n_out: int, steps: int, batch: int) -> Callable[[], object]:
    """A call that runs one epoch of a plain Keras `fit` of the same network (SGD, momentum 0.5, batch 200), float32."""
    import keras

    from dgex.architecture import Architecture
    from dgex.network import build_model

    rng = np.random.default_rng(1)
    X = rng.standard_normal((steps * batch, n_in), dtype=np.float32)
    Y = rng.standard_normal((steps * batch, n_out), dtype=np.float32)
    model = build_model(n_in, n_out, Architecture.parse(arch_name), 0)
    model.compile(optimizer=keras.optimizers.SGD(5e-4, momentum=0.5), loss="mse")
    model.fit(X, Y, batch_size=batch, epochs=1, verbose=0)
    return lambda: model.fit(X, Y, batch_size=batch, epochs=1, verbose=0, shuffle=True)


def best_of_rounds(calls: dict[str, Callable[[], object]], rounds: int) -> dict[str, tuple[float, float]]:
    """Per call: (shortest wall seconds, shortest CPU seconds) over `rounds` rounds that run every call once, in turn."""
    best = {k: (np.inf, np.inf) for k in calls}
    for _ in range(rounds):
        for k, call in calls.items():
            w, c = time.perf_counter(), time.process_time()
            call()
            w, c = time.perf_counter() - w, time.process_time() - c
            best[k] = (min(best[k][0], w), min(best[k][1], c))
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--archs", default="h1x3000_d10,h3x9000_d10")
    ap.add_argument("--steps", default="30,4", help="SGD steps per timed epoch (comma list, matched to --archs)")
    ap.add_argument("--landmarks", type=int, default=943)
    ap.add_argument("--targets", type=int, default=4760, help="targets per network (one half of 9,520)")
    ap.add_argument("--batch", type=int, default=200)
    ap.add_argument("--precision", default="float32,mixed_bfloat16", help="dgex.precision values to time (comma list)")
    ap.add_argument("--jit", choices=["both", "on", "off"], default="off")
    ap.add_argument("--rounds", type=int, default=4, help="timed rounds per variant (floors and one epoch each)")
    ap.add_argument("--keras-fit", action="store_true", help="also time a plain Keras fit (the starting point)")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    a = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)

    import tensorflow as tf

    from dgex.training import PRECISIONS

    tf.config.threading.set_intra_op_parallelism_threads(a.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    from dgex.architecture import Architecture, layer_sizes, parameter_count

    precisions = a.precision.split(",")
    if unknown := sorted(set(precisions) - set(PRECISIONS)):
        ap.error(f"--precision: unknown {unknown}; choose from {', '.join(PRECISIONS)}")
    archs = a.archs.split(",")
    steps = [int(s) for s in a.steps.split(",")]
    steps += [steps[-1]] * (len(archs) - len(steps))
    jits = {"both": [False, True], "on": [True], "off": [False]}[a.jit]
    print(f"# {os.cpu_count()} CPUs, {cpu_model()}, TensorFlow {tf.__version__}, NumPy {np.__version__}, GPUs: "
          f"{len(tf.config.list_physical_devices('GPU'))}; batch {a.batch}, {a.landmarks} landmarks -> {a.targets} targets, "
          f"best of {a.rounds} rounds; NumPy copy {copy_bandwidth() / 1e9:.1f} GB/s (read + write, one thread)")
    print("# floors (GFLOP/s): one step's products in NumPy float32 and TF MatMul float32 / bfloat16; update: the bare "
          "weight update (and casts) of one step, GB/s at 20 B/param (+12 for mixed_bfloat16); ratios wall / CPU time")
    print(f"{'network':<13} {'variant':<20} {'params':>12} {'profiles/s':>10} {'GFLOP/s':>8} {'NumPy f32':>9} "
          f"{'TF f32':>7} {'TF bf16':>7} {'update GB/s':>11} {'% of own floor':>14} {'products+update':>15}")
    for arch_name, n_steps in zip(archs, steps):
        sizes = layer_sizes(a.landmarks, a.targets, Architecture.parse(arch_name))
        P, flops = parameter_count(a.landmarks, a.targets, Architecture.parse(arch_name)), step_flops(sizes, a.batch)
        variants = [(p + ("+xla" if j else ""), p, j) for p in precisions for j in jits]
        if a.keras_fit:
            variants.insert(0, ("keras fit (float32)", "float32", None))
        floors = {"NumPy f32": numpy_floor(sizes, a.batch), "TF f32": tf_floor(sizes, a.batch, "float32"),
                  "TF bf16": tf_floor(sizes, a.batch, "bfloat16")}
        updates = {p: update_floor(sizes, p) for p in sorted({p for _, p, _ in variants})}
        for label, precision, jit in variants:
            with tempfile.TemporaryDirectory() as d:
                run = (keras_fit_epochs(arch_name, a.landmarks, a.targets, n_steps, a.batch) if jit is None else
                       trainer_epochs(arch_name, a.landmarks, a.targets, n_steps, a.batch, precision, jit, d))
                best = best_of_rounds(floors | {"update": updates[precision], "step": run}, a.rounds)
            own = "TF bf16" if precision == "mixed_bfloat16" else "TF f32"
            rate = {k: flops / w for k, (w, _) in best.items() if k not in ("step", "update")}
            step = [t / n_steps for t in best["step"]]  # wall, CPU seconds per SGD step
            mm, upd = best[own], best["update"]
            of_floor = "/".join(f"{100 * mm[i] / step[i]:.0f}" for i in (0, 1)) + "%"
            # the best the step could do if the products and the update ran at their bare rates, one after the other
            ceiling = "/".join(f"{100 * mm[i] / (mm[i] + upd[i]):.0f}" for i in (0, 1)) + "%"
            moved = P * (32 if precision == "mixed_bfloat16" else 20)
            print(f"{arch_name:<13} {label:<20} {P:>12,} {a.batch / step[0]:>10,.0f} {flops / step[0] / 1e9:>8.1f} "
                  f"{rate['NumPy f32'] / 1e9:>9.1f} {rate['TF f32'] / 1e9:>7.1f} {rate['TF bf16'] / 1e9:>7.1f} "
                  f"{moved / upd[0] / 1e9:>11.1f} {of_floor:>14} {ceiling:>15}  ({n_steps} steps, {step[0] * 1e3:.0f} ms/step;"
                  f" {own} products {mm[0] * 1e3:.0f} ms, update {upd[0] * 1e3:.0f} ms)", flush=True)


if __name__ == "__main__":
    main()
