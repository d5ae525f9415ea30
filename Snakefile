# D-GEX: gene expression inference with deep learning (Chen et al., Bioinformatics 2016), as a Snakemake workflow.
# Data flow: raw -> genes -> dedup -> quantile normalization -> standardization -> splits -> models -> evaluation -> tables, figures, report.

from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/demo.smk"
include: "rules/download.smk"
include: "rules/genes.smk"
include: "rules/dedup.smk"
include: "rules/normalize.smk"
include: "rules/splits.smk"
include: "rules/train.smk"
include: "rules/baselines.smk"
include: "rules/evaluate.smk"
include: "rules/report.smk"
include: "rules/interpret.smk"
include: "rules/infer.smk"
include: "rules/verify.smk"


rule all:
    default_target: True
    input:
        final_outputs(),
        inference_outputs,


# Every script rule names its provenance record (dgex.rulekit): checked here, before any job runs.
check_rule_contracts()
