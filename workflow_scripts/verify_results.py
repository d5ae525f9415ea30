"""Rule verify_results: re-check every artifact of the run against its provenance record; fail naming each problem."""
from dgex import logs, verify

log = logs.setup(snakemake.log[0])  # noqa: F821
report = verify.verify(snakemake.params.root, workdir=".")  # noqa: F821
lines = report.lines(verbose=True)
for line in lines:
    log.info("%s", line)
if not report.passed:
    problems = [line for line in lines[1:] if line.split(" ", 1)[0].lower() in verify.FAILURES]
    raise SystemExit(f"rule verify_results: {len(problems)} problem(s) under {report.root}:\n" + "\n".join(problems))
