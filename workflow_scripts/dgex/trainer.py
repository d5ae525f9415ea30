"""The D-GEX training loop: mini-batch SGD with momentum on device-resident data, best models, resumable checkpoints."""
from __future__ import annotations

import logging
import math
import os
import time
from pathlib import Path
from typing import Callable, Mapping

import numpy as np

from .architecture import Architecture, host_extra_bytes, memory_estimate, parameter_count
from .checkpoint import CHECKPOINT_NAME, binding, load_checkpoint, save_checkpoint
from .io import InputError, write_tsv
from .network import build_model, gradient_scales
from .training import (EvalSet, Progress, TrainSettings, TrainState, check_finite, check_memory, device_memory,
                       next_learning_rate, select_strategy)

log = logging.getLogger(__name__)

STEPS_PER_CALL = 25  # SGD steps per compiled call; only sets how often the progress bar moves


class Trainer:
    """Mini-batch SGD with momentum, per-layer learning-rate scales, epoch-wise decay, best-model tracking, checkpoints."""

    def __init__(self, arch: Architecture, settings: TrainSettings, X_tr: np.ndarray, Y_tr: np.ndarray,
                 eval_sets: list[EvalSet], criteria: dict[str, str], ckpt_dir: str | os.PathLike,
                 distribute: bool = False, memory_limit_gb: float | None = None, label: str | None = None,
                 inputs: Mapping[str, str] | None = None):
        """`inputs`: sha256 of the files the data came from; with the data, code and settings they bind the checkpoint."""
        import keras
        import tensorflow as tf

        self.tf, self.keras = tf, keras
        self.arch, self.s = arch, settings
        if X_tr.ndim != 2 or Y_tr.ndim != 2 or len(X_tr) != len(Y_tr) or len(X_tr) == 0:
            raise InputError(f"training data: landmarks {X_tr.shape} and targets {Y_tr.shape} must be matching non-empty "
                             "matrices")
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
        self.binding = binding(arch, settings, self.n_replicas, self.criteria, self.X_tr, self.Y_tr, eval_sets, inputs)
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
        return self.ckpt_dir / CHECKPOINT_NAME

    def save_checkpoint(self) -> None:
        """Write the loop's state, bound to this job, to its checkpoint (dgex.checkpoint)."""
        save_checkpoint(self.checkpoint_path(), self.state, self.binding, self.vars, self.moms, self.best_weights)

    def try_resume(self) -> bool:
        """Restore the last checkpoint if its binding (data, inputs, code, settings) is this job's; corrupt ones are errors."""
        path = self.checkpoint_path()
        loaded = load_checkpoint(path, self.binding, self.s.epochs, [tuple(v.shape) for v in self.vars])
        if loaded is None:
            return False
        state, arrays = loaded
        for i in range(len(self.vars)):
            self.vars[i].assign(arrays[f"var_{i}"])
            self.moms[i].assign(arrays[f"mom_{i}"])
        self.best_weights = {c: [arrays[f"best_{c}_{i}"] for i in range(len(self.vars))] for c in state.best}
        self.state = state
        log.info("resumed from checkpoint %s after epoch %d", path, self.state.epoch)
        return True

    # ---- the loop
    def predict(self, X: np.ndarray, batch: int = 4096) -> np.ndarray:
        """Predictions of the current weights, float32."""
        out = [self._forward(self.tf.constant(X[s : s + batch])).numpy() for s in range(0, len(X), batch)]
        return np.concatenate(out) if out else np.zeros((0, self.Y_tr.shape[1]), np.float32)

    def mae(self, X: np.ndarray, Y: np.ndarray, batch: int = 4096) -> float:
        """Mean absolute error over all profiles and targets (accumulated in float64)."""
        total = 0.0
        for s in range(0, len(X), batch):
            pred = self._forward(self.tf.constant(X[s : s + batch])).numpy()
            total += float(np.abs(pred - Y[s : s + batch]).sum(dtype=np.float64))
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
                loss = self._run_steps(self.X_dev, self.Y_dev, full, tf.constant(start), tf.constant(count), lr, ep,
                                       tf.constant(0))
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

    def best_model(self, criterion: str):
        """A copy of the network with the weights that scored best on `criterion`."""
        weights = self.best_weights.get(criterion)
        if weights is None:
            raise KeyError(f"no best model for criterion {criterion!r}")
        model = build_model(self.X_tr.shape[1], self.Y_tr.shape[1], self.arch, self.s.seed)
        for v, w in zip(model.trainable_variables, weights):
            v.assign(w)
        return model

