# Re-check every artifact of the run against its provenance record (`snakemake verify_results`; not in the default target).


# No output files: Snakemake runs the check every time it is asked for, and builds nothing before it.
rule verify_results:
    log:
        f"{LOGS}/verify_results.log",
    conda:
        "../envs/data.yaml"
    params:
        root=RESULTS,
    script:
        f"{SCRIPTS}/verify_results.py"
