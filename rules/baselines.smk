# Baselines of the paper (2.4-2.5): LR, LR-L1 (Lasso), LR-L2 (Ridge) and KNN-GE, each for all targets at once.
# LR-L1, LR-L2 and KNN-GE pick their hyper-parameter on geo_va for the GEO splits and on g1000_va for the RNA-Seq ones.

# evaluation split -> the validation split its hyper-parameter is chosen on
BASELINE_SELECTION = {split: layout.selection_split(split) for split in eval_splits()}


rule fit_linear_regression:
    input:
        unpack(train_eval_inputs),
        train=TRAIN_SPLIT_FILE,
    output:
        **recorded(
            model=f"{RESULTS}/models/lr/model.npz",
            solution=f"{RESULTS}/models/lr/solution.json",
            predictions=expand(f"{RESULTS}/predictions/lr/{{split}}.h5", split=eval_splits()),
        ),
    log:
        f"{LOGS}/fit_linear_regression.log",
    benchmark:
        f"{BENCH}/fit_linear_regression.tsv"
    conda:
        "../envs/data.yaml"
    threads: workflow.cores
    resources:
        mem_mb=data_mem_mb,
    script:
        f"{SCRIPTS}/fit_linear_regression.py"


# LR-L2 and LR-L1 run one script and differ in their settings (`use rule ... with:` adds to the params, never removes)
rule fit_ridge_regression:
    input:
        unpack(train_eval_inputs),
        train=TRAIN_SPLIT_FILE,
    output:
        **tuned_baseline_outputs("lr_l2"),
    log:
        f"{LOGS}/fit_ridge_regression.log",
    benchmark:
        f"{BENCH}/fit_ridge_regression.tsv"
    conda:
        "../envs/data.yaml"
    threads: workflow.cores
    resources:
        mem_mb=data_mem_mb,
    params:
        penalty="l2",
        lambdas=config["baselines"]["lr_l2_lambdas"],
        selection=BASELINE_SELECTION,
    script:
        f"{SCRIPTS}/fit_lasso_ridge.py"


use rule fit_ridge_regression as fit_lasso_regression with:
    output:
        **tuned_baseline_outputs("lr_l1"),
    log:
        f"{LOGS}/fit_lasso_regression.log",
    benchmark:
        f"{BENCH}/fit_lasso_regression.tsv"
    params:
        penalty="l1",
        lambdas=config["baselines"]["lr_l1_lambdas"],
        tol=config["baselines"]["lr_l1_tol"],
        max_sweeps=config["baselines"]["lr_l1_max_sweeps"],


rule fit_knn_ge:
    input:
        unpack(train_eval_inputs),
        train=TRAIN_SPLIT_FILE,
    output:
        **tuned_baseline_outputs("knn"),
    log:
        f"{LOGS}/fit_knn_ge.log",
    benchmark:
        f"{BENCH}/fit_knn_ge.tsv"
    conda:
        "../envs/data.yaml"
    threads: workflow.cores
    resources:
        mem_mb=data_mem_mb,
    params:
        ks=config["baselines"]["knn_k"],
        selection=BASELINE_SELECTION,
    script:
        f"{SCRIPTS}/fit_knn.py"
