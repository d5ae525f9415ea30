# The embedded demo dataset: seeded, deterministic, in the real sources' formats.


rule generate_demo_data:
    output:
        **recorded(
            geo=f"{RESULTS}/raw/geo.gctx",
            gtex=f"{RESULTS}/raw/gtex.gctx",
            g1000=f"{RESULTS}/raw/g1000.txt.gz",
            map_lm=f"{RESULTS}/raw/map_lm.txt",
            map_tg=f"{RESULTS}/raw/map_tg.txt",
            record=f"{RESULTS}/raw/demo.prov.json",
        ),
    log:
        f"{LOGS}/generate_demo_data.log",
    benchmark:
        f"{BENCH}/generate_demo_data.tsv"
    conda:
        "../envs/data.yaml"
    params:
        demo=config["data"]["demo"],
    script:
        f"{SCRIPTS}/generate_demo_data.py"
