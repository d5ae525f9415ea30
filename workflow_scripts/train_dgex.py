"""Rule train_dgex: train one D-GEX architecture on one target partition; keep the best models; predict."""
from pathlib import Path

import numpy as np

from dgex import gpu_pool, rulekit
from dgex.architecture import Architecture
from dgex.artifacts import part_genes, read_partition
from dgex.io import InputError
from dgex.layout import CRITERIA, EVAL_SPLITS, criterion_splits
from dgex.logs import import_tensorflow
from dgex.matrix import Matrix, load_matrix, save_matrix
from dgex.checkpoint import remove_checkpoint
from dgex.network import predict, save_model
from dgex.provenance import sha256_file
from dgex.trainer import Trainer
from dgex.training import EvalSet, RunOptions, TrainSettings


def configure_tensorflow(threads: int) -> None:
    """Thread counts, deterministic kernels, and GPU memory on demand (so several jobs can share a GPU)."""
    tf = import_tensorflow()  # without its start-up notices on the console
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.config.experimental.enable_op_determinism()
    for gpu in tf.config.list_physical_devices("GPU"):
        tf.config.experimental.set_memory_growth(gpu, True)


def checked_part_genes(partition_path: str, part: int, targets: list[str]) -> list[str]:
    """The target genes of one part, checked against the training matrix."""
    partition = read_partition(partition_path)
    genes = part_genes(partition, part)
    if not genes:
        raise InputError(f"{partition_path}: part {part} has no target (parts: {sorted(partition['part'].unique().tolist())})")
    unknown = sorted(set(genes) - set(targets))
    if unknown:
        raise InputError(f"{partition_path}: {len(unknown)} gene(s) of part {part} are not targets of the training data, "
                         f"e.g. {unknown[:3]}")
    return genes


def main(smk, log):
    run = RunOptions.from_config(smk.config.get("dgex", {}))  # not params: changing them does not retrain
    # this job's GPU(s) from the machine's pool, before TensorFlow is imported; given back on exit, even a kill
    with gpu_pool.lease(run.gpus, run.gpu_pool_dir, take_all=run.distribute):
        train(smk, log, run)


def train(smk, log, run: RunOptions) -> None:
    """Train, keep the best models and write their predictions."""
    configure_tensorflow(smk.threads)
    arch = Architecture.parse(smk.wildcards.arch)
    part = int(smk.wildcards.part)
    settings = TrainSettings.from_config(smk.params.dgex, seed=int(smk.params.seed) * 1000 + part)
    tr = load_matrix(smk.input.train)
    genes = checked_part_genes(smk.input.partition, part, tr.targets)
    pos = {g: i for i, g in enumerate(tr.genes)}
    cols = np.array([pos[g] for g in genes])
    X_tr, Y_tr = tr.X, np.ascontiguousarray(tr.values[:, cols])
    n_train, landmarks = len(tr.samples), tr.landmarks
    del tr  # the full matrix (all targets) is no longer needed
    sets = {}
    for name in EVAL_SPLITS:
        if name in smk.input.keys():
            m = load_matrix(smk.input[name])
            mpos = {g: i for i, g in enumerate(m.genes)}
            if m.landmarks != landmarks or any(g not in mpos for g in genes):
                raise InputError(f"{smk.input[name]}: landmarks or targets differ from {smk.input.train}")
            sets[name] = (m.samples, EvalSet(name, m.X, np.ascontiguousarray(m.values[:, [mpos[g] for g in genes]])))
    log.info("D-GEX %s, part %d: %d training profiles, %d targets, settings %s", arch.name, part, n_train, len(genes), settings)
    # a checkpoint is resumed only when made from these very files (and the same data, code and settings)
    inputs = {name: sha256_file(path) for name, path in smk.input.items()}
    trainer = Trainer(arch, settings, X_tr, Y_tr, [e for _, e in sets.values()], CRITERIA, smk.params.checkpoint_dir,
                      distribute=run.distribute, memory_limit_gb=run.memory_limit_gb, label=f"D-GEX {arch.name} part {part}",
                      inputs=inputs)
    state = trainer.fit(smk.output.history, timing_path=smk.log.epochs)
    out_dir = Path(smk.output.best_geo).parent
    for crit, validation in CRITERIA.items():
        if crit not in trainer.criteria:
            continue
        model = trainer.best_model(crit)
        log.info("best on %s: epoch %d, MAE %.5f", validation, state.best[crit]["epoch"], state.best[crit]["mae"])
        save_model(model, out_dir / f"best_{crit}.keras")
        for name in criterion_splits(crit):
            samples, e = sets[name]
            save_matrix(out_dir / f"pred_{name}.h5", Matrix(predict(model, e.X), samples, genes, 0,
                                                           {"best_epoch": state.best[crit]["epoch"], "criterion": crit}))


def drop_checkpoint(smk, log) -> None:
    """The checkpoint is the job's temporary state: gone once the models, predictions and record are written."""
    ckpt = Path(smk.params.checkpoint_dir)
    remove_checkpoint(ckpt, top=ckpt.parents[2])  # <run>/checkpoints/dgex/<arch>/part<p>: up to <run>/checkpoints
    log.info("removed the checkpoint in %s", ckpt)


rulekit.run(snakemake, main, seed=snakemake.params.seed, after=drop_checkpoint)  # noqa: F821
