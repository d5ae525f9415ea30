# What the trained networks learned (paper section 3.3): major weights and hub units, and how linear the last hidden layer is.


rule find_major_weights:
    input:
        model=interpreted_model,
        stats=f"{RESULTS}/standardized/geo_gene_stats.tsv",
        map_lm=raw_path("map_lm"),
    output:
        edges=f"{RESULTS}/interpretation/{{arch}}/part{{part}}/major_weights.tsv",
        units=f"{RESULTS}/interpretation/{{arch}}/part{{part}}/hidden_units.tsv",
        summary=f"{RESULTS}/interpretation/{{arch}}/part{{part}}/major_weights.json",
        png=report(
            f"{RESULTS}/figures/major_weights_{{arch}}_part{{part}}.png",
            category="Interpretation",
            caption="../report/major_weights.rst",
        ),
        svg=f"{RESULTS}/figures/major_weights_{{arch}}_part{{part}}.svg",
        provenance=f"{RESULTS}/interpretation/{{arch}}/part{{part}}/major_weights.tsv.prov.json",
    params:
        interpretation=INTERPRETATION_PARAMS,
        dpi=config["figures"]["dpi"],
    log:
        f"{LOGS}/find_major_weights/{{arch}}_part{{part}}.log",
    benchmark:
        f"{BENCH}/find_major_weights/{{arch}}_part{{part}}.tsv"
    conda:
        "../envs/dgex.yaml"
    script:
        f"{SCRIPTS}/find_major_weights.py"


rule compare_linear_fits:
    input:
        models=interpreted_models,
        train=f"{RESULTS}/splits/geo_tr.h5",
        partition=f"{RESULTS}/partitions/targets.tsv",
    output:
        per_gene=f"{RESULTS}/interpretation/{{arch}}/linear_fits.tsv",
        summary=f"{RESULTS}/interpretation/{{arch}}/linear_fits.json",
        png=report(
            f"{RESULTS}/figures/linear_fits_{{arch}}.png",
            category="Interpretation",
            caption="../report/linear_fits.rst",
        ),
        svg=f"{RESULTS}/figures/linear_fits_{{arch}}.svg",
        provenance=f"{RESULTS}/interpretation/{{arch}}/linear_fits.tsv.prov.json",
    params:
        interpretation=INTERPRETATION_PARAMS,
        dpi=config["figures"]["dpi"],
        color=config["figures"]["colors"].get("dgex", "#c0392b"),
        point_size=config["figures"]["point_size"],
    threads: workflow.cores
    log:
        f"{LOGS}/compare_linear_fits/{{arch}}.log",
    benchmark:
        f"{BENCH}/compare_linear_fits/{{arch}}.tsv"
    conda:
        "../envs/dgex.yaml"
    script:
        f"{SCRIPTS}/compare_linear_fits.py"
