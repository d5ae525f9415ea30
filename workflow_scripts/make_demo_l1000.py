"""Rule make_demo_l1000: L1000-style landmark profiles (the chip's landmark rows of GEO-te), to exercise inference."""
import numpy as np
import pandas as pd

from dgex import rulekit
from dgex.artifacts import read_assignment, split_samples
from dgex.gctx import Gct, read_gct, write_gct
from dgex.io import InputError
from dgex.l1000 import read_chip


def main(smk, log):
    chip = read_chip(smk.input.chip)
    geo = read_gct(smk.input.geo)
    te = set(split_samples(read_assignment(smk.input.assignment), "geo_te"))
    cols = [i for i, c in enumerate(geo.cids) if c in te]
    row_of = {p: i for i, p in enumerate(geo.rids)}
    absent = [p for p in chip["probe_id"] if p not in row_of]
    if absent:
        raise InputError(f"{smk.input.geo}: {len(absent)} landmark probes of the chip {smk.input.chip} are not in it, "
                         f"e.g. {absent[:5]}")
    rows = [row_of[p] for p in chip["probe_id"]]  # the chip's (analyte) order, as L1000 files list their rows
    row_meta = pd.DataFrame({"pr_gene_id": chip["entrez_id"].to_numpy(), "pr_gene_symbol": chip["symbol"].to_numpy(),
                             "pr_is_lmark": "Y"}, index=pd.Index(chip["probe_id"].tolist()))
    cids = [geo.cids[i] for i in cols]
    col_meta = pd.DataFrame({"cell_id": "demo", "pert_type": "ctl_untrt", "provenance_code": "DEMO+QNO"}, index=pd.Index(cids))
    write_gct(smk.output.profiles, Gct(geo.values[np.ix_(cols, rows)], chip["probe_id"].tolist(), cids, row_meta, col_meta))
    log.info("demo L1000: %d landmark rows of the chip x %d GEO-te profiles", len(rows), len(cids))


rulekit.run(snakemake, main)  # noqa: F821
