# The paper's tables and figures from the pipeline's own outputs, for the HTML report.


rule make_summary_table:
    input:
        unpack(summary_inputs),
    output:
        tsv=report(
            f"{RESULTS}/tables/summary_{{split}}.tsv",
            category="Tables",
            caption="../report/summary_table.rst",
        ),
        md=f"{RESULTS}/tables/summary_{{split}}.md",
        provenance=f"{RESULTS}/tables/summary_{{split}}.tsv.prov.json",
    params:
        methods=methods(),
        tables=config["tables"],
    log:
        f"{LOGS}/make_summary_table/{{split}}.log",
    benchmark:
        f"{BENCH}/make_summary_table/{{split}}.tsv"
    conda:
        "../envs/report.yaml"
    script:
        f"{SCRIPTS}/make_summary_table.py"


rule plot_per_gene_scatter:
    input:
        unpack(scatter_inputs),
    output:
        png=report(
            f"{RESULTS}/figures/scatter_{{split}}.png",
            category="Figures",
            caption="../report/scatter.rst",
        ),
        svg=f"{RESULTS}/figures/scatter_{{split}}.svg",
        provenance=f"{RESULTS}/figures/scatter_{{split}}.png.prov.json",
    params:
        methods=methods(),
        figures=config["figures"],
    log:
        f"{LOGS}/plot_per_gene_scatter/{{split}}.log",
    benchmark:
        f"{BENCH}/plot_per_gene_scatter/{{split}}.tsv"
    conda:
        "../envs/report.yaml"
    script:
        f"{SCRIPTS}/plot_per_gene_scatter.py"
