"""Rule partition_targets: assign each target gene to the network (part) that infers it."""
from dgex import rulekit
from dgex.io import write_tsv
from dgex.matrix import load_matrix
from dgex.splits import check_partition, partition_targets


def main(smk, log):
    tr = load_matrix(smk.input.train)
    p = smk.params.partitions
    table = partition_targets(tr.targets, p["method"], p["n_parts"], smk.params.seed, tr.Y if p["method"] == "cluster" else None)
    check_partition(table, tr.targets)
    log.info("%s partition: part sizes %s", p["method"], table["part"].value_counts().sort_index().to_dict())
    write_tsv(smk.output.partition, table)


rulekit.run(snakemake, main)  # noqa: F821
