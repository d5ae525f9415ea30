"""Rule download_<source>: one source file from a mirror folder or its URL, resumable, sha256 verified or recorded."""
from dgex import rulekit
from dgex.download import Source, fetch


def main(smk, log):
    spec = smk.params.spec
    source = Source(smk.params.source, spec["url"], spec["filename"], spec.get("sha256"))
    record = fetch(source, smk.output.data, smk.params.mirror, retries=smk.params.retries, timeout=smk.params.timeout_s)
    log.info("%s: %d bytes from %s, sha256 %s (%s)", source.filename, record["bytes"], record["origin"], record["sha256"],
             "verified" if record["sha256_verified"] else "recorded, not configured")


rulekit.run(snakemake, main)  # noqa: F821
