# Source downloads, one rule per source (data.download.sources): local mirror first, else HTTP(S) with resume and retries.


for _source in DOWNLOAD_SOURCES:

    rule:
        name:
            f"download_{_source}"
        output:
            data=download_path(_source),
            provenance=f"{download_path(_source)}.prov.json",
        params:
            source=_source,
            spec=config["data"]["download"]["sources"][_source],
            mirror=download_mirrors(),
            retries=config["data"]["download"]["retries"],
            timeout_s=config["data"]["download"]["timeout_s"],
        localrule: True
        log:
            f"{LOGS}/download/{_source}.log",
        benchmark:
            f"{BENCH}/download/{_source}.tsv"
        conda:
            "../envs/data.yaml"
        script:
            f"{SCRIPTS}/download_source.py"
