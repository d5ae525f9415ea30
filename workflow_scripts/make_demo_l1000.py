"""Rule make_demo_l1000: L1000-style landmark profiles (GEO-te) and a chip file from the demo data, to exercise inference."""
import numpy as np
import pandas as pd

from dgex import rulekit
from dgex.artifacts import read_assignment, split_samples
from dgex.gctx import Gct, read_gct, write_gct
from dgex.io import write_tsv
from dgex.l1000 import demo_chip
from dgex.sources import read_gene_map

EXTRA_LANDMARK_SHARE = 35 / 943  # L1000 has 978 landmarks, 35 more than the D-GEX networks use


def main(smk, log):
    rng = np.random.default_rng([int(smk.params.seed), 1000])
    lm = read_gene_map(smk.input.map_lm)
    geo = read_gct(smk.input.geo)
    te = set(split_samples(read_assignment(smk.input.assignment), "geo_te"))
    cols = [i for i, c in enumerate(geo.cids) if c in te]
    used = {p for ps in lm.probes for p in ps}
    others = [p for p in geo.rids if p not in used]
    n_extra = min(len(others), max(1, round(EXTRA_LANDMARK_SHARE * len(lm))))
    extra = [others[i] for i in sorted(rng.choice(len(others), n_extra, replace=False))]
    chip = demo_chip(lm, extra, rng)
    chip_lm = chip[chip["pr_type"] == "LM"]
    row_of = {p: i for i, p in enumerate(geo.rids)}
    rows = [row_of[p] for p in chip_lm["pr_id"]]  # the chip's (analyte) order, as L1000 files list their rows
    row_meta = pd.DataFrame({"pr_gene_id": chip_lm["pr_gene_id"].to_numpy(),
                             "pr_gene_symbol": chip_lm["pr_gene_symbol"].to_numpy(),
                             "pr_is_lmark": "Y"}, index=pd.Index(chip_lm["pr_id"].tolist()))
    cids = [geo.cids[i] for i in cols]
    col_meta = pd.DataFrame({"cell_id": "demo", "pert_type": "ctl_untrt", "provenance_code": "DEMO+QNO"}, index=pd.Index(cids))
    profiles = Gct(geo.values[np.ix_(cols, rows)], chip_lm["pr_id"].tolist(), cids, row_meta, col_meta)
    write_gct(smk.output.profiles, profiles)
    write_tsv(smk.output.chip, chip)
    log.info("demo L1000: %d landmark rows (%d not used by the networks) x %d GEO-te profiles", len(rows), n_extra, len(cids))


rulekit.run(snakemake, main, seed=snakemake.params.seed)  # noqa: F821
