# Source downloads, one rule per source (data.download.sources): local mirror first, else HTTP(S) with resume and retries.
# Only what decides a file's content (URL, filename, sha256) is a param; how it is fetched (data.download.mirror,
# retries, timeout_s) the script reads from the config, so changing it never re-downloads or reruns anything.


for _source in DOWNLOAD_SOURCES:

    rule:
        name:
            f"download_{_source}"
        output:
            **recorded(data=download_path(_source)),
        log:
            f"{LOGS}/download/{_source}.log",
        benchmark:
            f"{BENCH}/download/{_source}.tsv"
        localrule: True
        conda:
            "../envs/data.yaml"
        params:
            source=_source,
            spec=config["data"]["download"]["sources"][_source],
        script:
            f"{SCRIPTS}/download_source.py"
