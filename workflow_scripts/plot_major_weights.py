"""Rule plot_major_weights: Fig. 6, the major weights of one network (from find_major_weights' tables) as a layered graph."""
from dgex import rulekit
from dgex.artifacts import read_major_weights
from dgex.interpret import plot_major_weights


def main(smk, log):
    edges, units, s = read_major_weights(smk.input.edges, smk.input.units, smk.input.summary)
    inputs = edges[edges["layer"] == "input_hidden"]
    names = dict(zip(inputs["source"], inputs["source_name"]))  # landmark index -> symbol
    plot_major_weights(edges, units, smk.output.png, smk.output.svg,
                       f"D-GEX {smk.wildcards.arch}, part {smk.wildcards.part}: major weights "
                       f"(>{s['input_sd']:g} SD in, >{s['output_sd']:g} SD out)", names, dpi=smk.params.figures["dpi"])


rulekit.run(snakemake, main)  # noqa: F821
