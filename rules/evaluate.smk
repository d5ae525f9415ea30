# Per-gene mean absolute error (the paper's metric) and Pearson correlation of every method on every split.


rule evaluate_predictions:
    input:
        predictions=f"{RESULTS}/predictions/{{method}}/{{split}}.h5",
        truth=f"{RESULTS}/splits/{{split}}.h5",
    output:
        **recorded(per_gene=f"{RESULTS}/evaluation/{{method}}/{{split}}.tsv"),
    log:
        f"{LOGS}/evaluate_predictions/{{method}}_{{split}}.log",
    benchmark:
        f"{BENCH}/evaluate_predictions/{{method}}_{{split}}.tsv"
    conda:
        "../envs/data.yaml"
    script:
        f"{SCRIPTS}/evaluate_predictions.py"
