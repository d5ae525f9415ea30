"""Rule deduplicate_geo: which GEO profiles remain after removing near-duplicates over all probes."""
import pandas as pd

from dgex import rulekit
from dgex.dedup import deduplicate
from dgex.io import read_gct, write_tsv


def main(smk, log):
    geo = read_gct(smk.input.geo)
    d = smk.params.dedup
    keep = deduplicate(geo.values, threshold=d["distance"], method=d["method"], n_clusters=d["n_clusters"], seed=smk.params.seed)
    log.info("kept %d of %d GEO profiles", int(keep.sum()), len(keep))
    write_tsv(smk.output.keep, pd.DataFrame({"sample": geo.cids, "kept": keep.astype(int)}))


rulekit.run(snakemake, main)  # noqa: F821
