# Joint quantile normalization onto a GEO reference distribution, then per-gene standardization.


rule build_quantile_reference:
    input:
        geo=geo_matrix(),
        assignment=ASSIGNMENT,
    output:
        **recorded(reference=f"{RESULTS}/qnorm/reference.tsv"),
    log:
        f"{LOGS}/build_quantile_reference.log",
    benchmark:
        f"{BENCH}/build_quantile_reference.tsv"
    conda:
        "../envs/data.yaml"
    params:
        qnorm=config["quantile_normalization"],
    script:
        f"{SCRIPTS}/build_quantile_reference.py"


rule quantile_normalize:
    input:
        matrix=qnorm_data_input,
        reference=f"{RESULTS}/qnorm/reference.tsv",
        assignment=ASSIGNMENT,
    output:
        **recorded(matrix=f"{RESULTS}/qnorm/{{dataset}}.h5"),
    log:
        f"{LOGS}/quantile_normalize/{{dataset}}.log",
    benchmark:
        f"{BENCH}/quantile_normalize/{{dataset}}.tsv"
    conda:
        "../envs/data.yaml"
    params:
        qnorm=config["quantile_normalization"],
    script:
        f"{SCRIPTS}/quantile_normalize.py"


rule standardize:
    input:
        matrix=f"{RESULTS}/qnorm/{{dataset}}.h5",
        geo=f"{RESULTS}/qnorm/geo.h5",
        assignment=ASSIGNMENT,
    output:
        **recorded(
            matrix=f"{RESULTS}/standardized/{{dataset}}.h5",
            stats=f"{RESULTS}/standardized/{{dataset}}_gene_stats.tsv",
        ),
    log:
        f"{LOGS}/standardize/{{dataset}}.log",
    benchmark:
        f"{BENCH}/standardize/{{dataset}}.tsv"
    conda:
        "../envs/data.yaml"
    params:
        standardization=config["standardization"],
    script:
        f"{SCRIPTS}/standardize.py"
