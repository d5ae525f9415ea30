# The paper's tables and figures from the pipeline's own outputs, grouped by category for `snakemake --report`.
# Tables and figures read the per-gene evaluations (and training histories) directly, never each other, and each rule
# gets only the settings it uses: a table setting reruns only table rules, a figure setting only the figures it changes.


rule make_summary_table:
    input:
        unpack(summary_inputs),
        solutions=baseline_solutions(),
        genes=f"{RESULTS}/standardized/geo_gene_stats.tsv",  # landmarks and targets: is this the paper's gene set?
    output:
        tsv=f"{RESULTS}/tables/summary_{{split}}.tsv",
        md=f"{RESULTS}/tables/summary_{{split}}.md",
        html=report(
            f"{RESULTS}/tables/summary_{{split}}.html",
            category="Tables",
            subcategory=report_split_subcategory,
            caption="../report/summary_table.rst",
        ),
        provenance=f"{RESULTS}/tables/summary_{{split}}.tsv.prov.json",
    params:
        tables=rule_settings("tables", "decimals", "percent_decimals", "dropout", "paper_values"),
        standardization=config["standardization"]["stats"],
    log:
        f"{LOGS}/make_summary_table/{{split}}.log",
    benchmark:
        f"{BENCH}/make_summary_table/{{split}}.tsv"
    conda:
        "../envs/report.yaml"
    script:
        f"{SCRIPTS}/make_summary_table.py"


rule make_dropout_table:
    input:
        per_gene=dropout_table_inputs,
        solutions=baseline_solutions(),
    output:
        tsv=f"{RESULTS}/tables/dropout_{{split}}.tsv",
        md=f"{RESULTS}/tables/dropout_{{split}}.md",
        html=report(
            f"{RESULTS}/tables/dropout_{{split}}.html",
            category="Supplementary tables",
            subcategory=report_split_subcategory,
            caption="../report/dropout_table.rst",
        ),
        provenance=f"{RESULTS}/tables/dropout_{{split}}.tsv.prov.json",
    params:
        tables=rule_settings("tables", "decimals"),
    log:
        f"{LOGS}/make_dropout_table/{{split}}.log",
    benchmark:
        f"{BENCH}/make_dropout_table/{{split}}.tsv"
    conda:
        "../envs/report.yaml"
    script:
        f"{SCRIPTS}/make_dropout_table.py"


rule make_improvement_table:
    input:
        unpack(improvement_inputs),
        solutions=baseline_solutions(),
        genes=f"{RESULTS}/standardized/geo_gene_stats.tsv",
    output:
        tsv=f"{RESULTS}/tables/improvement.tsv",
        md=f"{RESULTS}/tables/improvement.md",
        html=report(
            f"{RESULTS}/tables/improvement.html",
            category="Tables",
            subcategory="All test sets",
            caption="../report/improvement_table.rst",
        ),
        provenance=f"{RESULTS}/tables/improvement.tsv.prov.json",
    params:
        tables=rule_settings("tables", "decimals", "percent_decimals", "paper_values"),
        standardization=config["standardization"]["stats"],
        test_splits=test_splits(),
    log:
        f"{LOGS}/make_improvement_table.log",
    benchmark:
        f"{BENCH}/make_improvement_table.tsv"
    conda:
        "../envs/report.yaml"
    script:
        f"{SCRIPTS}/make_improvement_table.py"


rule make_pearson_table:
    input:
        unpack(pearson_inputs),
        solutions=baseline_solutions(),
    output:
        tsv=f"{RESULTS}/tables/pearson.tsv",
        md=f"{RESULTS}/tables/pearson.md",
        html=report(
            f"{RESULTS}/tables/pearson.html",
            category="Tables",
            subcategory="All test sets",
            caption="../report/pearson_table.rst",
        ),
        provenance=f"{RESULTS}/tables/pearson.tsv.prov.json",
    params:
        tables=rule_settings("tables", "decimals"),
        test_splits=test_splits(),
    log:
        f"{LOGS}/make_pearson_table.log",
    benchmark:
        f"{BENCH}/make_pearson_table.tsv"
    conda:
        "../envs/report.yaml"
    script:
        f"{SCRIPTS}/make_pearson_table.py"


rule plot_error_vs_architecture:
    input:
        unpack(summary_inputs),
    output:
        png=report(
            f"{RESULTS}/figures/architecture_{{split}}.png",
            category="Figures",
            subcategory=report_split_subcategory,
            caption="../report/architecture.rst",
        ),
        svg=f"{RESULTS}/figures/architecture_{{split}}.svg",
        provenance=f"{RESULTS}/figures/architecture_{{split}}.png.prov.json",
    params:
        figures=rule_settings("figures", "dpi", "colors", "colormap", "architectures", "reference_lines"),
    log:
        f"{LOGS}/plot_error_vs_architecture/{{split}}.log",
    benchmark:
        f"{BENCH}/plot_error_vs_architecture/{{split}}.tsv"
    conda:
        "../envs/report.yaml"
    script:
        f"{SCRIPTS}/plot_error_vs_architecture.py"


rule plot_error_density:
    input:
        unpack(summary_inputs),
    output:
        png=report(
            f"{RESULTS}/figures/error_density_{{split}}.png",
            category="Figures",
            subcategory=report_split_subcategory,
            caption="../report/error_density.rst",
        ),
        svg=f"{RESULTS}/figures/error_density_{{split}}.svg",
        provenance=f"{RESULTS}/figures/error_density_{{split}}.png.prov.json",
    params:
        figures=rule_settings("figures", "dpi", "colors", "compare_with"),
    log:
        f"{LOGS}/plot_error_density/{{split}}.log",
    benchmark:
        f"{BENCH}/plot_error_density/{{split}}.tsv"
    conda:
        "../envs/report.yaml"
    script:
        f"{SCRIPTS}/plot_error_density.py"


rule plot_per_gene_scatter:
    input:
        unpack(summary_inputs),
    output:
        png=report(
            f"{RESULTS}/figures/scatter_{{split}}.png",
            category="Figures",
            subcategory=report_split_subcategory,
            caption="../report/scatter.rst",
        ),
        svg=f"{RESULTS}/figures/scatter_{{split}}.svg",
        provenance=f"{RESULTS}/figures/scatter_{{split}}.png.prov.json",
    params:
        figures=rule_settings("figures", "dpi", "colors", "point_size", "compare_with"),
    log:
        f"{LOGS}/plot_per_gene_scatter/{{split}}.log",
    benchmark:
        f"{BENCH}/plot_per_gene_scatter/{{split}}.tsv"
    conda:
        "../envs/report.yaml"
    script:
        f"{SCRIPTS}/plot_per_gene_scatter.py"


rule plot_error_per_epoch:
    input:
        unpack(epoch_curve_inputs),
    output:
        png=report(
            f"{RESULTS}/figures/epochs_{{split}}.png",
            category="Figures",
            subcategory=report_split_subcategory,
            caption="../report/epochs.rst",
        ),
        svg=f"{RESULTS}/figures/epochs_{{split}}.svg",
        provenance=f"{RESULTS}/figures/epochs_{{split}}.png.prov.json",
    params:
        figures=rule_settings("figures", "dpi", "colors", "colormap", "reference_lines"),
    log:
        f"{LOGS}/plot_error_per_epoch/{{split}}.log",
    benchmark:
        f"{BENCH}/plot_error_per_epoch/{{split}}.tsv"
    conda:
        "../envs/report.yaml"
    script:
        f"{SCRIPTS}/plot_error_per_epoch.py"
