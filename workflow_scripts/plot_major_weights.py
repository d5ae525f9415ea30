"""Rule plot_major_weights: Fig. 6, the major weights of one network (from find_major_weights' tables) as a layered graph."""
import json
from pathlib import Path

import pandas as pd

from dgex import rulekit
from dgex.interpret import plot_major_weights


def main(smk, log):
    edges = pd.read_csv(smk.input.edges, sep="\t", dtype={"source_name": str}, keep_default_na=False)
    units = pd.read_csv(smk.input.units, sep="\t")
    s = json.loads(Path(smk.input.summary).read_text())
    inputs = edges[edges["layer"] == "input_hidden"]
    names = dict(zip(inputs["source"], inputs["source_name"]))  # landmark index -> symbol
    plot_major_weights(edges, units, smk.output.png, smk.output.svg,
                       f"D-GEX {smk.wildcards.arch}, part {smk.wildcards.part}: major weights "
                       f"(>{s['input_sd']:g} SD in, >{s['output_sd']:g} SD out)", names, dpi=smk.params.figures["dpi"])


rulekit.run(snakemake, main)  # noqa: F821
