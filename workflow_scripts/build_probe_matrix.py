"""Rule build_probe_matrix: the probe-level LINCS model's GEO matrix: the chip's landmark probes, then every other probe."""
from dgex import rulekit
from dgex.gctx import iter_gctx_profiles, read_gctx_ids
from dgex.genes import microarray_genes
from dgex.l1000 import read_chip
from dgex.matrix import save_matrix
from dgex.probes import probe_maps

CHUNK = 4000  # profiles per block: 4000 x 22,268 probes is 356 MB of float32


def main(smk, log):
    path = str(smk.input.data)
    probes, samples = read_gctx_ids(path)
    lm, tg = probe_maps(read_chip(smk.input.chip), probes, path)
    m = microarray_genes(iter_gctx_profiles(path, CHUNK, reuse=True), probes, samples, lm, tg, path)  # one probe per 'gene'
    log.info("geo: %d profiles x %d landmark probes (of the chip) + %d target probes", len(m.samples), m.n_landmarks,
             len(m.targets))
    save_matrix(smk.output.matrix, m)


rulekit.run(snakemake, main)  # noqa: F821
