"""Rule train_dgex: train one D-GEX architecture on one target partition; keep the best models; predict."""
from pathlib import Path

import numpy as np
import pandas as pd

from dgex import rulekit
from dgex.dgex_model import Architecture, EvalSet, Trainer, TrainSettings, parameter_count, predict, save_model
from dgex.matrix import Matrix, load_matrix, save_matrix

# criterion -> (validation split it is chosen on, splits it predicts)
CRITERIA = {"geo": ("geo_va", ["geo_va", "geo_te"]), "rnaseq": ("g1000_va", ["g1000_va", "gtex_te"])}
SETTING_KEYS = ("epochs", "batch_size", "momentum", "learning_rate", "lr_scale_after_first", "lr_decay", "lr_min", "monitor_size")


def main(smk, log):
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(smk.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.config.experimental.enable_op_determinism()
    arch = Architecture.parse(smk.wildcards.arch)
    part = int(smk.wildcards.part)
    d = smk.params.dgex
    settings = TrainSettings(seed=int(smk.params.seed) * 1000 + part, **{k: d[k] for k in SETTING_KEYS if k in d})
    partition = pd.read_csv(smk.input.partition, sep="\t")
    genes = partition.loc[partition["part"] == part, "gene"].astype(str).tolist()
    tr = load_matrix(smk.input.train)
    cols = np.array([tr.n_landmarks + tr.targets.index(g) for g in genes])
    sets = {}
    for name in CRITERIA["geo"][1] + CRITERIA["rnaseq"][1]:
        if name in smk.input.keys():
            m = load_matrix(smk.input[name])
            sets[name] = (m, EvalSet(name, m.X, np.ascontiguousarray(m.values[:, cols])))
    n_params = parameter_count(tr.n_landmarks, len(genes), arch)
    log.info("D-GEX %s, part %d: %d landmarks -> %d targets, %d parameters (%.1f MB float32), %d training profiles",
             arch.name, part, tr.n_landmarks, len(genes), n_params, n_params * 4 / 1e6, len(tr.samples))
    trainer = Trainer(arch, settings, tr.X, np.ascontiguousarray(tr.values[:, cols]), [e for _, e in sets.values()],
                      {c: v[0] for c, v in CRITERIA.items()}, smk.params.checkpoint_dir)
    state = trainer.fit(smk.output.history)
    out_dir = Path(smk.output.best_geo).parent
    for crit, (_, predicts) in CRITERIA.items():
        if crit not in trainer.criteria:
            continue
        model = trainer.best_model(crit)
        log.info("best on %s: epoch %d, MAE %.5f", CRITERIA[crit][0], state.best[crit]["epoch"], state.best[crit]["mae"])
        save_model(model, out_dir / f"best_{crit}.keras")
        for name in predicts:
            m, e = sets[name]
            save_matrix(out_dir / f"pred_{name}.h5", Matrix(predict(model, e.X), m.samples, genes, 0,
                                                           {"best_epoch": state.best[crit]["epoch"], "criterion": crit}))


rulekit.run(snakemake, main)  # noqa: F821
