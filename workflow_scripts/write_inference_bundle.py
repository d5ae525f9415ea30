"""Rule write_inference_bundle: the networks of all parts, landmarks with L1000 ids, statistics and quantile reference,
the LR baseline when the run fits it, and each method's per-target reliability on the test splits."""
from pathlib import Path

import numpy as np
from dgex import rulekit
from dgex.artifacts import read_assignment, read_gene_stats, read_per_gene, read_partition, split_samples
from dgex.bundle import write_bundle
from dgex.gctx import read_gctx_ids
from dgex.l1000 import read_chip
from dgex.layout import TRAIN_SPLIT
from dgex.logs import import_tensorflow
from dgex.matrix import load_matrix
from dgex.normalize import quantile_reference
from dgex.probes import probe_maps, probe_symbols
from dgex.sources import read_gene_map
from dgex.target_reliability import predicted_per_gene, reliability_table


def split_of(path) -> str:
    """The split of an evaluation or split file: evaluation/<method>/geo_te.tsv, splits/gtex_te.h5 -> geo_te, gtex_te."""
    return Path(path).name.split(".")[0]


def bundle_reliability(smk, models, partition, targets, log) -> tuple[dict, dict]:
    """method -> per-target reliability table, and method -> where it comes from (the networks' own evaluations where they
    made them, else their predictions on the split; LR's evaluations)."""
    per_gene, sources = {}, []
    for f in smk.input.evaluation:
        per_gene[split_of(f)] = read_per_gene(f)
        sources.append(f"{split_of(f)}: {f}")
    for f in smk.input.predict_on:
        per_gene[split_of(f)] = predicted_per_gene(models, partition, f)
        sources.append(f"{split_of(f)}: the bundle's networks on {f}")
        log.info("%s: per-gene accuracy of the bundle's networks (their evaluation there is of another selection)", f)
    tables = {"dgex": reliability_table(per_gene, targets, "D-GEX")}
    where = {"dgex": "; ".join(sorted(sources))}
    if smk.input.lr_model:
        lr = {split_of(f): read_per_gene(f) for f in smk.input.lr_evaluation}
        tables["lr"] = reliability_table(lr, targets, "LR")
        where["lr"] = "; ".join(f"{s}: {f}" for s, f in zip(lr, smk.input.lr_evaluation))
    return tables, where


def main(smk, log):
    import_tensorflow()  # Keras loads the networks; first TensorFlow, without its start-up notices
    qn = load_matrix(smk.input.qnorm, genes="landmarks")
    tr = set(split_samples(read_assignment(smk.input.assignment), TRAIN_SPLIT))
    rows = np.array([i for i, s in enumerate(qn.samples) if s in tr])
    # the distribution an L1000 profile's landmarks are mapped onto: GEO-tr's landmark values after quantile normalization
    reference = quantile_reference(qn.values[rows])
    chip = read_chip(smk.input.chip[0]) if smk.input.chip else None
    if chip is None:
        log.warning("no L1000 chip file: the bundle has no Entrez ids (inputs must use probe ids)")
    models = {p: f for p, f in enumerate(smk.input.models)}
    lm, tg = read_gene_map(smk.input.map_lm), read_gene_map(smk.input.map_tg)
    row_order = None
    if smk.params.lincs_model == "probes":  # one 'gene' per probe; output rows: the compendium's probes, in its order
        row_order, _ = read_gctx_ids(smk.input.compendium)
        lm, tg = probe_maps(chip, row_order, smk.input.compendium, symbols=probe_symbols(lm, tg))
    partition, stats = read_partition(smk.input.partition), read_gene_stats(smk.input.stats)
    targets = stats.loc[stats["role"] == "target", "gene"].tolist()
    reliability, sources = bundle_reliability(smk, models, partition, targets, log)
    write_bundle(smk.output.manifest.rsplit("/", 1)[0], architecture=smk.wildcards.arch, criterion=smk.params.model,
                 models=models, partition=partition, stats=stats, reference=reference, landmark_map=lm, chip=chip,
                 target_map=tg, ties=smk.params.ties, source=f"run {smk.params.run}", reliability=reliability,
                 linear_model=smk.input.lr_model[0] if smk.input.lr_model else None, reliability_sources=sources,
                 row_order=row_order)
    for method, t in reliability.items():
        log.info("%s: median per-target Pearson r on GEO-te %.3f", method, float(np.nanmedian(t["test_r"])))
    log.info("bundle of %d part(s), %d landmarks, reference from %d GEO-tr profiles", len(models), qn.n_landmarks, len(rows))


rulekit.run(snakemake, main)  # noqa: F821
