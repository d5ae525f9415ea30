# Per-gene matrices: probe averaging for GEO, Ensembl-id lookup (versions stripped) for GTEx and 1000 Genomes;
# per-probe for the probe-level LINCS model.


rule build_gene_matrix:
    input:
        unpack(genes_input),
    output:
        **recorded(matrix=f"{RESULTS}/genes/{{dataset}}.h5"),
    log:
        f"{LOGS}/build_gene_matrix/{{dataset}}.log",
    benchmark:
        f"{BENCH}/build_gene_matrix/{{dataset}}.tsv"
    conda:
        "../envs/data.yaml"
    params:
        genes=config["genes"],
    script:
        f"{SCRIPTS}/build_gene_matrix.py"


# lincs_model: probes (docs/data.md, "The probe-level LINCS model"): the chip's landmark probes, then every other probe.
rule build_probe_matrix:
    input:
        data=raw_path("geo"),
        chip=lambda wildcards: landmark_chip(),
    output:
        **recorded(matrix=f"{RESULTS}/probes/geo.h5"),
    log:
        f"{LOGS}/build_probe_matrix.log",
    benchmark:
        f"{BENCH}/build_probe_matrix.tsv"
    conda:
        "../envs/data.yaml"
    script:
        f"{SCRIPTS}/build_probe_matrix.py"
