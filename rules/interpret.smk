# What the trained networks learned (paper section 3.3): major weights and hub units, and how linear the last hidden layer is.
# Each analysis and its figure are separate rules: a display setting (figures.dpi, colours, point size) reruns only the
# drawing, never the analysis (the linear fits cost about 4 TFLOP per part at paper size).


rule find_major_weights:
    input:
        model=interpreted_model,
        stats=GENE_STATS,
        map_lm=raw_path("map_lm"),
    output:
        **recorded(
            edges=f"{RESULTS}/interpretation/{{arch}}/part{{part}}/major_weights.tsv",
            units=f"{RESULTS}/interpretation/{{arch}}/part{{part}}/hidden_units.tsv",
            summary=f"{RESULTS}/interpretation/{{arch}}/part{{part}}/major_weights.json",
        ),
    log:
        f"{LOGS}/find_major_weights/{{arch}}_part{{part}}.log",
    benchmark:
        f"{BENCH}/find_major_weights/{{arch}}_part{{part}}.tsv"
    conda:
        "../envs/dgex.yaml"
    params:
        interpretation=rule_settings("interpretation", "model", "input_sd", "output_sd", "hub_sd"),
    script:
        f"{SCRIPTS}/find_major_weights.py"


rule plot_major_weights:
    input:
        edges=rules.find_major_weights.output.edges,
        units=rules.find_major_weights.output.units,
        summary=rules.find_major_weights.output.summary,
    output:
        **figure_outputs("major_weights_{arch}_part{part}", "major_weights", "Interpretation", None),
    log:
        f"{LOGS}/plot_major_weights/{{arch}}_part{{part}}.log",
    benchmark:
        f"{BENCH}/plot_major_weights/{{arch}}_part{{part}}.tsv"
    conda:
        "../envs/report.yaml"
    params:
        figures=rule_settings("figures", "dpi"),
    script:
        f"{SCRIPTS}/plot_major_weights.py"


rule compare_linear_fits:
    input:
        models=interpreted_models,
        train=TRAIN_SPLIT_FILE,
        partition=PARTITION,
    output:
        **recorded(
            per_gene=f"{RESULTS}/interpretation/{{arch}}/linear_fits.tsv",
            summary=f"{RESULTS}/interpretation/{{arch}}/linear_fits.json",
        ),
    log:
        f"{LOGS}/compare_linear_fits/{{arch}}.log",
    benchmark:
        f"{BENCH}/compare_linear_fits/{{arch}}.tsv"
    conda:
        "../envs/dgex.yaml"
    threads: workflow.cores
    params:
        model=config["interpretation"]["model"],
    script:
        f"{SCRIPTS}/compare_linear_fits.py"


rule plot_linear_fits:
    input:
        per_gene=rules.compare_linear_fits.output.per_gene,
    output:
        **figure_outputs("linear_fits_{arch}", "linear_fits", "Interpretation", None),
    log:
        f"{LOGS}/plot_linear_fits/{{arch}}.log",
    benchmark:
        f"{BENCH}/plot_linear_fits/{{arch}}.tsv"
    conda:
        "../envs/report.yaml"
    params:
        figures=rule_settings("figures", "dpi", "point_size"),
        color=config["figures"]["colors"].get("dgex", "#c0392b"),
    script:
        f"{SCRIPTS}/plot_linear_fits.py"
