"""Rule download_<source>: one source file from a mirror folder or its URL, resumable, sha256 verified or recorded."""
from dgex import rulekit
from dgex.download import Source, fetch


def main(smk, log):
    spec = smk.params.spec
    source = Source(smk.params.source, spec["url"], spec["filename"], spec.get("sha256"))
    transport = smk.config["data"]["download"]  # run options, not params: changing them reruns nothing
    record = fetch(source, smk.output.data, transport["mirror"], retries=transport["retries"], timeout=transport["timeout_s"])
    log.info("%s: %d bytes from %s, sha256 %s (%s)", source.filename, record["bytes"], record["origin"], record["sha256"],
             "verified" if record["sha256_verified"] else "recorded, not configured")


rulekit.run(snakemake, main)  # noqa: F821
