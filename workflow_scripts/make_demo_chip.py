"""Rule make_demo_chip: an L1000-style chip for the demo data: the gene maps' landmark probes plus 3.7 % more landmarks."""
import numpy as np

from dgex import rulekit
from dgex.gctx import read_gctx_ids
from dgex.io import write_tsv
from dgex.l1000 import demo_chip
from dgex.sources import read_gene_map

EXTRA_LANDMARK_SHARE = 35 / 943  # L1000 has 978 landmarks, 35 more than the D-GEX networks use


def main(smk, log):
    rng = np.random.default_rng([int(smk.params.seed), 1000])
    lm = read_gene_map(smk.input.map_lm)
    probes, _ = read_gctx_ids(smk.input.geo)
    used = {p for ps in lm.probes for p in ps}
    others = [p for p in probes if p not in used]
    n_extra = min(len(others), max(1, round(EXTRA_LANDMARK_SHARE * len(lm))))
    extra = [others[i] for i in sorted(rng.choice(len(others), n_extra, replace=False))]
    write_tsv(smk.output.chip, demo_chip(lm, extra, rng))
    log.info("demo chip: %d landmark probes (%d beside the gene map's %d)", len(lm) + n_extra, n_extra, len(lm))


rulekit.run(snakemake, main, seed=snakemake.params.seed)  # noqa: F821
