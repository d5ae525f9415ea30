"""Rule find_major_weights: major weights and hub units of one 1-hidden-layer D-GEX network (drawn by plot_major_weights)."""
import json

from dgex import rulekit
from dgex.artifacts import read_gene_stats
from dgex.interpret import hidden_units, major_weight_summary, major_weights
from dgex.io import write_text, write_tsv
from dgex.logs import import_tensorflow
from dgex.network import load_model
from dgex.sources import read_gene_map


def main(smk, log):
    import_tensorflow()  # Keras loads the networks; first TensorFlow, without its start-up notices
    p = smk.params.interpretation
    model = load_model(smk.input.model)
    edges, n_hidden = major_weights(model, p["input_sd"], p["output_sd"])
    units = hidden_units(edges, n_hidden, p["hub_sd"])
    stats = read_gene_stats(smk.input.stats)
    symbol = dict(zip(read_gene_map(smk.input.map_lm).ensembl, read_gene_map(smk.input.map_lm).symbols))
    landmarks = [symbol.get(g, g) for g in stats.loc[stats["role"] == "landmark", "gene"]]
    summary = major_weight_summary(edges, units) | {"architecture": smk.wildcards.arch, "part": int(smk.wildcards.part),
                                                    "input_sd": p["input_sd"], "output_sd": p["output_sd"], "hub_sd": p["hub_sd"]}
    log.info("%d major input->hidden and %d hidden->output weights; %d of %d hidden units connected; %d hub unit(s)",
             summary["major_input_hidden"], summary["major_hidden_output"], summary["units_with_any_major"], n_hidden,
             summary["hub_units"])
    edges.insert(3, "source_name", [landmarks[s] if layer == "input_hidden" else f"h{s}"
                                    for layer, s in zip(edges["layer"], edges["source"])])
    write_tsv(smk.output.edges, edges, float_format="%.6g")
    write_tsv(smk.output.units, units[(units["in_degree"] > 0) | (units["out_degree"] > 0)], float_format="%.4f")
    write_text(smk.output.summary, json.dumps(summary, indent=1) + "\n")


rulekit.run(snakemake, main)  # noqa: F821
