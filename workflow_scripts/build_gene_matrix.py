"""Rule build_gene_matrix: landmark + target gene values of one dataset (probe means, or Ensembl lookup)."""
from dgex import rulekit
from dgex.gctx import iter_gctx_profiles, read_gct, read_gctx_ids
from dgex.genes import microarray_genes, rnaseq_genes, select_targets
from dgex.matrix import save_matrix
from dgex.sources import read_g1000, read_gene_map

CHUNK = 4000  # profiles per block: 4000 x 22,268 probes is 356 MB of float32


def main(smk, log):
    genes = smk.params.genes
    lm = read_gene_map(smk.input.map_lm)
    tg = select_targets(lm, read_gene_map(smk.input.map_tg), genes["shared_ensembl_ids"])
    dataset, path = smk.wildcards.dataset, str(smk.input.data)
    if dataset == "geo":
        probes, samples = read_gctx_ids(path)
        m = microarray_genes(iter_gctx_profiles(path, CHUNK, reuse=True), probes, samples, lm, tg, path)
    elif dataset == "g1000":
        m = rnaseq_genes(read_g1000(path), lm, tg, path, duplicates=genes["duplicate_ensembl_ids"])
    else:
        m = rnaseq_genes(read_gct(path), lm, tg, path, duplicates=genes["duplicate_ensembl_ids"])
    log.info("%s: %d profiles x %d landmarks + %d targets", dataset, len(m.samples), m.n_landmarks, len(m.targets))
    save_matrix(smk.output.matrix, m)


rulekit.run(snakemake, main)  # noqa: F821
