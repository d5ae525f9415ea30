# Per-gene matrices: probe averaging for GEO, Ensembl-id lookup (versions stripped) for GTEx and 1000 Genomes.


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
