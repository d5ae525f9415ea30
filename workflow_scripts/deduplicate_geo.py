"""Rule deduplicate_geo: which GEO profiles remain after removing near-duplicates over all probes (read in blocks)."""
import pandas as pd

from dgex import rulekit
from dgex.dedup import deduplicate
from dgex.gctx import GctxReader, read_gctx_ids
from dgex.io import InputError, write_tsv

MEMORY_BUDGET = 6 << 30  # bytes of profiles held at once while filtering clusters (two passes at full GEO size)


def main(smk, log):
    _, samples = read_gctx_ids(smk.input.geo)
    if not samples:
        raise InputError(f"{smk.input.geo}: the compendium holds no profiles")
    d = smk.params.dedup
    with GctxReader(smk.input.geo) as src:
        keep = deduplicate(src, threshold=d["distance"], method=d["method"], n_clusters=d["n_clusters"], seed=smk.params.seed,
                           rule=d["rule"], batch_size=d["batch_size"], epochs=d["epochs"], budget_bytes=MEMORY_BUDGET)
    log.info("kept %d of %d GEO profiles", int(keep.sum()), len(keep))
    write_tsv(smk.output.keep, pd.DataFrame({"sample": samples, "kept": keep.astype(int)}))


rulekit.run(snakemake, main, seed=snakemake.params.seed)  # noqa: F821
