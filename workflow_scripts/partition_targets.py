"""Rule partition_targets: assign each target gene to the network (part) that infers it."""
from dgex import rulekit
from dgex.io import write_tsv
from dgex.matrix import load_matrix
from dgex.splits import check_partition, partition_targets


def main(smk, log):
    p = smk.params.partitions
    tr = load_matrix(smk.input.train)
    n_parts = 1 if p["method"] == "all" else p["n_parts"]
    table = partition_targets(tr.targets, p["method"], n_parts, smk.params.seed, tr.Y if p["method"] == "cluster" else None,
                              cluster_profiles=p.get("cluster_profiles", 5000), balanced=p.get("balanced", True))
    check_partition(table, tr.targets, n_parts)
    log.info("%s partition: part sizes %s", p["method"], table["part"].value_counts().sort_index().to_dict())
    write_tsv(smk.output.partition, table)


rulekit.run(snakemake, main, seed=snakemake.params.seed)  # noqa: F821
