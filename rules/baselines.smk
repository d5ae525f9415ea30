# Baselines of the paper (2.4-2.5): LR, LR-L1 (Lasso), LR-L2 (Ridge) and KNN-GE, each for all targets at once.
# LR-L1, LR-L2 and KNN-GE pick their hyper-parameter on geo_va for the GEO splits and on g1000_va for the RNA-Seq ones.
# The four rules differ only in their files and settings, listed in BASELINE_RULES; all run workflow_scripts/fit_baseline.py,
# whose function of the rule's name fits the baseline.

# evaluation split -> the validation split its hyper-parameter is chosen on
BASELINE_SELECTION = {split: layout.selection_split(split) for split in eval_splits()}
# rule -> (outputs, params)
BASELINE_RULES = {
    "fit_linear_regression": (
        recorded(
            model=f"{RESULTS}/models/lr/model.npz",
            solution=f"{RESULTS}/models/lr/solution.json",
            predictions=expand(f"{RESULTS}/predictions/lr/{{split}}.h5", split=eval_splits()),
        ),
        {},
    ),
    "fit_lasso_regression": (
        tuned_baseline_outputs("lr_l1"),
        {
            "penalty": "l1",
            "lambdas": config["baselines"]["lr_l1_lambdas"],
            "tol": config["baselines"]["lr_l1_tol"],
            "max_sweeps": config["baselines"]["lr_l1_max_sweeps"],
            "selection": BASELINE_SELECTION,
        },
    ),
    "fit_ridge_regression": (
        tuned_baseline_outputs("lr_l2"),
        {
            "penalty": "l2",
            "lambdas": config["baselines"]["lr_l2_lambdas"],
            "selection": BASELINE_SELECTION,
        },
    ),
    "fit_knn_ge": (
        tuned_baseline_outputs("knn"),
        {"ks": config["baselines"]["knn_k"], "selection": BASELINE_SELECTION},
    ),
}


for _name, (_outputs, _params) in BASELINE_RULES.items():

    rule:
        name:
            _name
        input:
            unpack(train_eval_inputs),
            train=TRAIN_SPLIT_FILE,
        output:
            **_outputs,
        log:
            f"{LOGS}/{_name}.log",
        benchmark:
            f"{BENCH}/{_name}.tsv"
        conda:
            "../envs/data.yaml"
        threads: workflow.cores
        resources:
            mem_mb=data_mem_mb,
        params:
            **_params,
        script:
            f"{SCRIPTS}/fit_baseline.py"  # evaluated again when the job runs: no loop variable here
