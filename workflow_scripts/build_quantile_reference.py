"""Rule build_quantile_reference: the GEO reference distribution (mean of sorted profiles)."""
import numpy as np
import pandas as pd

from dgex import rulekit
from dgex.io import write_tsv
from dgex.matrix import load_matrix
from dgex.normalize import quantile_reference


def main(smk, log):
    geo = load_matrix(smk.input.geo)
    a = pd.read_csv(smk.input.assignment, sep="\t")
    which = smk.params.qnorm["reference"]
    ids = a.loc[a["split"] == "geo_tr", "sample"] if which == "geo_tr" else a["sample"]
    index = {s: i for i, s in enumerate(geo.samples)}
    rows = np.array(sorted(index[s] for s in ids.astype(str)))
    ref = quantile_reference(geo.values[rows])
    log.info("reference from %d GEO profiles (%s) over %d genes: min %.3f, median %.3f, max %.3f",
             len(rows), which, len(ref), ref[0], np.median(ref), ref[-1])
    write_tsv(smk.output.reference, pd.DataFrame({"rank": np.arange(1, len(ref) + 1), "value": ref}), float_format="%.9g")


rulekit.run(snakemake, main)  # noqa: F821
