"""Rule write_inference_bundle: the networks of all parts, landmarks with L1000 ids, statistics and quantile reference."""
import numpy as np
from dgex import rulekit
from dgex.artifacts import read_assignment, read_gene_stats, read_partition, split_samples
from dgex.bundle import write_bundle
from dgex.gctx import read_gctx_ids
from dgex.l1000 import read_chip
from dgex.layout import TRAIN_SPLIT
from dgex.logs import import_tensorflow
from dgex.matrix import load_matrix
from dgex.normalize import quantile_reference
from dgex.probes import probe_maps, probe_symbols
from dgex.sources import read_gene_map


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
    write_bundle(smk.output.manifest.rsplit("/", 1)[0], architecture=smk.wildcards.arch, criterion=smk.params.model,
                 models=models, partition=read_partition(smk.input.partition),
                 stats=read_gene_stats(smk.input.stats), reference=reference, landmark_map=lm, chip=chip, target_map=tg,
                 ties=smk.params.ties, source=f"run {smk.params.run}", row_order=row_order)
    log.info("bundle of %d part(s), %d landmarks, reference from %d GEO-tr profiles", len(models), qn.n_landmarks, len(rows))


rulekit.run(snakemake, main)  # noqa: F821
