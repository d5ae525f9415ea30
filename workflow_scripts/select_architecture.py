"""Checkpoint select_architecture: the D-GEX architecture with the lowest validation error, as Tables 1/2 select it."""
import json

from dgex import rulekit
from dgex.architecture import Architecture
from dgex.io import write_text
from dgex.selection import load_per_gene, overall, select_dgex


def main(smk, log):
    per_gene = load_per_gene(list(smk.input.validation))
    selected = select_dgex(per_gene)
    errors = overall(per_gene).set_index("method")["mae"]
    record = {"architecture": Architecture.from_method(selected).name, "model": smk.wildcards.model,
              "validation_split": smk.params.split,
              "validation_mae": {Architecture.from_method(m).name: float(v) for m, v in errors.items()}}
    write_text(smk.output.selection, json.dumps(record, indent=1) + "\n")
    log.info("selected %s on %s (overall MAE %.5f)", record["architecture"], smk.params.split, errors[selected])


rulekit.run(snakemake, main)  # noqa: F821
