# Baselines: linear regression (all targets in one solve).


rule fit_linear_regression:
    input:
        unpack(train_eval_inputs),
        train=f"{RESULTS}/splits/geo_tr.h5",
    output:
        model=f"{RESULTS}/models/lr/model.npz",
        predictions=expand(f"{RESULTS}/predictions/lr/{{split}}.h5", split=eval_splits()),
        provenance=f"{RESULTS}/models/lr/model.npz.prov.json",
    threads: workflow.cores
    log:
        f"{LOGS}/fit_linear_regression.log",
    benchmark:
        f"{BENCH}/fit_linear_regression.tsv"
    conda:
        "../envs/data.yaml"
    script:
        f"{SCRIPTS}/fit_linear_regression.py"
