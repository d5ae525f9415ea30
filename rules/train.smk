# D-GEX training: one job per architecture and target partition, then the parts' predictions joined.


rule train_dgex:
    input:
        unpack(train_eval_inputs),
        train=TRAIN_SPLIT_FILE,
        partition=PARTITION,
    output:
        **recorded(
            best_geo=f"{RESULTS}/models/dgex/{{arch}}/part{{part}}/best_geo.keras",
            # the model selected on 1000 Genomes (RNA-Seq runs only), declared so Snakemake and dgex.verify track it
            best_rnaseq=[f"{RESULTS}/models/dgex/{{arch}}/part{{part}}/best_rnaseq.keras"] if config["data"]["rnaseq"] else [],
            history=f"{RESULTS}/models/dgex/{{arch}}/part{{part}}/history.tsv",
            predictions=expand(
                f"{RESULTS}/models/dgex/{{{{arch}}}}/part{{{{part}}}}/pred_{{split}}.h5",
                split=eval_splits(),
            ),
        ),
    log:
        f"{LOGS}/train_dgex/{{arch}}_part{{part}}.log",
        epochs=f"{LOGS}/train_dgex/{{arch}}_part{{part}}.epochs.tsv",
    benchmark:
        f"{BENCH}/train_dgex/{{arch}}_part{{part}}.tsv"
    conda:
        "../envs/dgex.yaml"
    threads: train_threads()
    resources:
        gpu=1,
        mem_mb=dgex_mem_mb,
        runtime=dgex_runtime,
    params:
        dgex=dgex_training_settings,
        seed=config["seed"],
        checkpoint_dir=f"{RESULTS}/checkpoints/dgex/{{arch}}/part{{part}}",
    script:
        f"{SCRIPTS}/train_dgex.py"


rule join_dgex_predictions:
    input:
        parts=dgex_part_predictions,
        split=f"{RESULTS}/splits/{{split}}.h5",
    output:
        **recorded(predictions=f"{RESULTS}/predictions/dgex_{{arch}}/{{split}}.h5"),
    log:
        f"{LOGS}/join_dgex_predictions/{{arch}}_{{split}}.log",
    benchmark:
        f"{BENCH}/join_dgex_predictions/{{arch}}_{{split}}.tsv"
    conda:
        "../envs/data.yaml"
    script:
        f"{SCRIPTS}/join_dgex_predictions.py"
