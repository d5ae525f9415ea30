"""Rule build_quantile_reference: the GEO reference distribution (mean of sorted profiles), from GEO-tr or all GEO."""
import numpy as np
import pandas as pd

from dgex import rulekit
from dgex.artifacts import read_assignment
from dgex.io import InputError, write_tsv
from dgex.layout import TRAIN_SPLIT
from dgex.normalize import quantile_reference
from dgex.stream import iter_blocks, matrix_info, row_index


def main(smk, log):
    a = read_assignment(smk.input.assignment)
    which = smk.params.qnorm["reference"]
    ids = a.loc[a["split"] == TRAIN_SPLIT, "sample"] if which == TRAIN_SPLIT else a["sample"]
    if ids.empty:
        raise InputError(f"{smk.input.assignment}: no profiles for the reference ({which})")
    rows = row_index(matrix_info(smk.input.geo), ids.tolist(), f"{smk.input.assignment} ({which})")
    blocks = iter_blocks(smk.input.geo, rows, label=f"quantile reference ({which})", reuse=True)
    ref = quantile_reference(values for _, values in blocks)
    log.info("reference from %d GEO profiles (%s) over %d genes: min %.3f, median %.3f, max %.3f",
             len(rows), which, len(ref), ref[0], np.median(ref), ref[-1])
    write_tsv(smk.output.reference, pd.DataFrame({"rank": np.arange(1, len(ref) + 1), "value": ref}), float_format="%.9g")


rulekit.run(snakemake, main)  # noqa: F821
