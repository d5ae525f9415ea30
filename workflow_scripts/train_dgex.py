"""Rule train_dgex: train one D-GEX architecture on one target partition; keep the best models; predict."""
from pathlib import Path

import numpy as np
import pandas as pd

from dgex import gpu_pool, rulekit
from dgex.dgex_model import Architecture, EvalSet, Trainer, TrainSettings, predict, remove_checkpoint, save_model
from dgex.io import InputError
from dgex.logs import import_tensorflow
from dgex.matrix import Matrix, load_matrix, save_matrix
from dgex.provenance import sha256_file

# criterion -> (validation split it is chosen on, splits it predicts)
CRITERIA = {"geo": ("geo_va", ["geo_va", "geo_te"]), "rnaseq": ("g1000_va", ["g1000_va", "gtex_te"])}
SETTING_KEYS = ("epochs", "batch_size", "momentum", "learning_rate", "lr_scale_after_first", "lr_decay", "lr_min",
                "monitor_size", "precision", "jit_compile")


def configure_tensorflow(threads: int) -> None:
    """Thread counts, deterministic kernels, and GPU memory on demand (so several jobs can share a GPU)."""
    tf = import_tensorflow()  # without its start-up notices on the console
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.config.experimental.enable_op_determinism()
    for gpu in tf.config.list_physical_devices("GPU"):
        tf.config.experimental.set_memory_growth(gpu, True)


def part_genes(partition_path: str, part: int, targets: list[str]) -> list[str]:
    """The target genes of one part, checked against the training matrix."""
    partition = pd.read_csv(partition_path, sep="\t", dtype={"gene": str})
    if not {"gene", "part"} <= set(partition.columns):
        raise InputError(f"{partition_path}: needs columns gene and part, has {list(partition.columns)}")
    genes = partition.loc[partition["part"] == part, "gene"].tolist()
    if not genes:
        raise InputError(f"{partition_path}: part {part} has no target (parts: {sorted(partition['part'].unique().tolist())})")
    unknown = sorted(set(genes) - set(targets))
    if unknown:
        raise InputError(f"{partition_path}: {len(unknown)} gene(s) of part {part} are not targets of the training data, "
                         f"e.g. {unknown[:3]}")
    return genes


def main(smk, log):
    run = smk.config.get("dgex", {})  # run options (distribute, memory_limit_gb, gpus, ...) are not params: they do not retrain
    # this job's GPU(s) from the machine's pool, before TensorFlow is imported; given back on exit, even a kill
    with gpu_pool.lease(run.get("gpus"), run.get("gpu_pool_dir"), take_all=bool(run.get("distribute", False))):
        train(smk, log, run)


def train(smk, log, run: dict) -> None:
    """Train, keep the best models and write their predictions."""
    configure_tensorflow(smk.threads)
    arch = Architecture.parse(smk.wildcards.arch)
    part = int(smk.wildcards.part)
    d = smk.params.dgex
    settings = TrainSettings(seed=int(smk.params.seed) * 1000 + part, **{k: d[k] for k in SETTING_KEYS if k in d})
    tr = load_matrix(smk.input.train)
    genes = part_genes(smk.input.partition, part, tr.targets)
    pos = {g: i for i, g in enumerate(tr.genes)}
    cols = np.array([pos[g] for g in genes])
    X_tr, Y_tr = tr.X, np.ascontiguousarray(tr.values[:, cols])
    n_train, landmarks = len(tr.samples), tr.landmarks
    del tr  # the full matrix (all targets) is no longer needed
    sets = {}
    for name in CRITERIA["geo"][1] + CRITERIA["rnaseq"][1]:
        if name in smk.input.keys():
            m = load_matrix(smk.input[name])
            mpos = {g: i for i, g in enumerate(m.genes)}
            if m.landmarks != landmarks or any(g not in mpos for g in genes):
                raise InputError(f"{smk.input[name]}: landmarks or targets differ from {smk.input.train}")
            sets[name] = (m.samples, EvalSet(name, m.X, np.ascontiguousarray(m.values[:, [mpos[g] for g in genes]])))
    log.info("D-GEX %s, part %d: %d training profiles, %d targets, settings %s", arch.name, part, n_train, len(genes), settings)
    # a checkpoint is resumed only when made from these very files (and the same data, code and settings)
    inputs = {name: sha256_file(path) for name, path in smk.input.items()}
    trainer = Trainer(arch, settings, X_tr, Y_tr, [e for _, e in sets.values()], {c: v[0] for c, v in CRITERIA.items()},
                      smk.params.checkpoint_dir, distribute=bool(run.get("distribute", False)),
                      memory_limit_gb=run.get("memory_limit_gb"), label=f"D-GEX {arch.name} part {part}", inputs=inputs)
    state = trainer.fit(smk.output.history, timing_path=smk.log.epochs)
    out_dir = Path(smk.output.best_geo).parent
    for crit, (_, predicts) in CRITERIA.items():
        if crit not in trainer.criteria:
            continue
        model = trainer.best_model(crit)
        log.info("best on %s: epoch %d, MAE %.5f", CRITERIA[crit][0], state.best[crit]["epoch"], state.best[crit]["mae"])
        save_model(model, out_dir / f"best_{crit}.keras")
        for name in predicts:
            samples, e = sets[name]
            save_matrix(out_dir / f"pred_{name}.h5", Matrix(predict(model, e.X), samples, genes, 0,
                                                           {"best_epoch": state.best[crit]["epoch"], "criterion": crit}))


def drop_checkpoint(smk, log) -> None:
    """The checkpoint is the job's temporary state: gone once the models, predictions and record are written."""
    ckpt = Path(smk.params.checkpoint_dir)
    remove_checkpoint(ckpt, top=ckpt.parents[2])  # <run>/checkpoints/dgex/<arch>/part<p>: up to <run>/checkpoints
    log.info("removed the checkpoint in %s", ckpt)


rulekit.run(snakemake, main, after=drop_checkpoint)  # noqa: F821
