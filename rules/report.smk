# The paper's tables and figures from the pipeline's own outputs, grouped by category for `snakemake --report`.
# Tables and figures read the per-gene evaluations (and training histories) directly, never each other, and each rule
# gets only the settings it uses: a table setting reruns only table rules, a figure setting only the figures it changes.
# The ten rules differ only in their files and settings, listed in REPORT_RULES; all run workflow_scripts/report_rules.py,
# whose function of the rule's name makes the table or figure.


# how every dataset was standardized: tables say when GTEx errors are not on the paper's scale
STANDARDIZATION = config["standardization"]["stats"]
# the rule of the well-inferred table and figure (the same as dgex-infer's dgex_well_inferred flag), over every test split
WELL_INFERRED = {"well_inferred": config["inference"]["well_inferred"], "test_splits": test_splits()}
# rule -> (outputs, input function, params)
REPORT_RULES = {
    "make_summary_table": (
        table_outputs("summary_{split}", "Tables", report_split_subcategory),
        summary_table_inputs,
        table_settings("decimals", "percent_decimals", "dropout", "paper_values") | {"standardization": STANDARDIZATION},
    ),
    "make_dropout_table": (
        table_outputs("dropout_{split}", "Supplementary tables", report_split_subcategory),
        dropout_table_inputs,
        table_settings("decimals"),
    ),
    "make_improvement_table": (
        table_outputs("improvement", "Tables", "All test sets"),
        improvement_table_inputs,
        table_settings("decimals", "percent_decimals", "paper_values")
        | {"standardization": STANDARDIZATION, "test_splits": test_splits()},
    ),
    "make_pearson_table": (
        table_outputs("pearson", "Tables", "All test sets"),
        pearson_table_inputs,
        table_settings("decimals") | {"test_splits": test_splits()},
    ),
    "make_well_inferred_table": (
        table_outputs("well_inferred", "Tables", "All test sets")
        | {"per_target": f"{RESULTS}/tables/reliability_per_target.tsv"},
        pearson_table_inputs,
        table_settings("decimals", "percent_decimals") | WELL_INFERRED,
    ),
    "plot_error_vs_architecture": (
        figure_outputs("architecture_{split}", "architecture"),
        summary_inputs,
        figure_settings("dpi", "colors", "colormap", "architectures", "reference_lines"),
    ),
    "plot_error_density": (
        figure_outputs("error_density_{split}", "error_density"),
        summary_inputs,
        figure_settings("dpi", "colors", "compare_with"),
    ),
    "plot_per_gene_scatter": (
        figure_outputs("scatter_{split}", "scatter"),
        summary_inputs,
        figure_settings("dpi", "colors", "point_size", "compare_with"),
    ),
    "plot_error_per_epoch": (
        figure_outputs("epochs_{split}", "epochs"),
        epoch_curve_inputs,
        figure_settings("dpi", "colors", "colormap", "reference_lines"),
    ),
    "plot_well_inferred": (
        figure_outputs("well_inferred", "well_inferred", subcategory="All test sets"),
        pearson_inputs,
        figure_settings("dpi", "colors") | WELL_INFERRED,
    ),
}


for _name, (_outputs, _inputs, _params) in REPORT_RULES.items():
    _job = f"{_name}/{{split}}" if "{split}" in _outputs["provenance"] else _name  # log and benchmark names

    rule:
        name:
            _name
        input:
            unpack(_inputs),
        output:
            **_outputs,
        log:
            f"{LOGS}/{_job}.log",
        benchmark:
            f"{BENCH}/{_job}.tsv"
        conda:
            "../envs/report.yaml"
        params:
            **_params,
        script:
            f"{SCRIPTS}/report_rules.py"  # evaluated again when the job runs: no loop variable here
