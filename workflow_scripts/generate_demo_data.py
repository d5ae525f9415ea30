"""Rule generate_demo_data: write the seeded demo GEO/GTEx/1000G files and gene maps in the real formats."""
from dgex import rulekit
from dgex.demo import make_demo
from dgex.gctx import write_gct
from dgex.sources import write_g1000, write_gene_map


def main(smk, log):
    demo = make_demo(dict(smk.params.demo))
    log.info("GEO %s profiles x probes (%d near-duplicates), GTEx %s, 1000G %s", demo["geo"].values.shape,
             demo["n_duplicates"], demo["gtex"].values.shape, demo["g1000"].values.shape)
    write_gct(smk.output.geo, demo["geo"])
    write_gct(smk.output.gtex, demo["gtex"])
    a = demo["g1000_annotation"]
    write_g1000(smk.output.g1000, demo["g1000"], a["symbols"], a["chroms"], a["coords"])
    write_gene_map(smk.output.map_lm, demo["map_lm"])
    write_gene_map(smk.output.map_tg, demo["map_tg"])


rulekit.run(snakemake, main)  # noqa: F821
