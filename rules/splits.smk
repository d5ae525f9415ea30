# GEO train/validation/test splits (seeded), RNA-Seq validation/test sets, and target-gene partitions.


rule assign_splits:
    input:
        keep=f"{RESULTS}/dedup/geo_profiles.tsv",
    output:
        **recorded(assignment=ASSIGNMENT),
    log:
        f"{LOGS}/assign_splits.log",
    benchmark:
        f"{BENCH}/assign_splits.tsv"
    conda:
        "../envs/data.yaml"
    params:
        splits=config["splits"],
        seed=config["seed"],
    script:
        f"{SCRIPTS}/assign_splits.py"


rule write_split:
    input:
        matrix=split_input,
        assignment=ASSIGNMENT,
    output:
        **recorded(split=f"{RESULTS}/splits/{{split}}.h5"),
    log:
        f"{LOGS}/write_split/{{split}}.log",
    benchmark:
        f"{BENCH}/write_split/{{split}}.tsv"
    conda:
        "../envs/data.yaml"
    script:
        f"{SCRIPTS}/write_split.py"


rule partition_targets:
    input:
        train=TRAIN_SPLIT_FILE,
    output:
        **recorded(partition=PARTITION),
    log:
        f"{LOGS}/partition_targets.log",
    benchmark:
        f"{BENCH}/partition_targets.tsv"
    conda:
        "../envs/data.yaml"
    params:
        partitions=config["partitions"],
        seed=config["seed"],
    script:
        f"{SCRIPTS}/partition_targets.py"
