# Deduplication of GEO profiles over all probes (MiniBatchKMeans, then a distance filter per cluster).


rule deduplicate_geo:
    input:
        geo=raw_path("geo"),
    output:
        **recorded(keep=f"{RESULTS}/dedup/geo_profiles.tsv"),
    log:
        f"{LOGS}/deduplicate_geo.log",
    benchmark:
        f"{BENCH}/deduplicate_geo.tsv"
    conda:
        "../envs/data.yaml"
    threads: workflow.cores  # BLAS distance products; also keeps other big jobs from running beside it
    params:
        dedup=config["dedup"],
        seed=config["seed"],
    script:
        f"{SCRIPTS}/deduplicate_geo.py"
