"""Re-check a run's artifacts against their provenance records: mismatches, missing files, orphans, stale inputs.

Usage: python -m dgex.verify results/<run> [--workdir DIR] [--json REPORT.json] [--verbose | --quiet]
Given a folder of runs (results/), it verifies each run folder in it and reports per run.
Exit status: 0 when every artifact matches its record, 1 when something does not, 2 on a usage error.
"""
from __future__ import annotations

import argparse
import fnmatch
import json
import os
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from .provenance import PROV_SUFFIX, sha256_file

# Files under results/<run>/ that no rule records, and why they are not artifacts (paths relative to the run folder).
POLICY: dict[str, str] = {
    "logs/*": "rule log (time-stamped, rewritten by every attempt)",
    "benchmarks/*": "rule timing (differs from run to run)",
    "checkpoints/*": "training resume state of train_dgex (not a result; safe to delete)",
    "report*.html": "snakemake --report output (embeds its creation date)",
    "report*.zip": "snakemake --report output (embeds its creation date)",
}
# Leftovers of atomic writes cut short by a kill (dgex.io.atomic_path names them .tmp-<pid>-<final name>).
TEMPORARY = ".tmp-*"
FAILURES = ("mismatch", "missing", "orphan", "stale", "bad_record")


@dataclass
class Finding:
    """One file's verdict: its path (as recorded or found), the record that lists it, and why."""

    path: str
    record: str = ""
    rule: str = ""
    detail: str = ""


@dataclass
class Report:
    """What verification found under one run folder."""

    root: str
    workdir: str
    ok: list[Finding] = field(default_factory=list)
    mismatch: list[Finding] = field(default_factory=list)
    missing: list[Finding] = field(default_factory=list)
    orphan: list[Finding] = field(default_factory=list)
    stale: list[Finding] = field(default_factory=list)
    bad_record: list[Finding] = field(default_factory=list)
    temporary: list[Finding] = field(default_factory=list)
    policy: list[Finding] = field(default_factory=list)
    inputs_gone: list[Finding] = field(default_factory=list)
    n_records: int = 0

    @property
    def passed(self) -> bool:
        """True when nothing is mismatched, missing, orphaned, stale or unreadable."""
        return not any(getattr(self, k) for k in FAILURES)

    def counts(self) -> dict[str, int]:
        return {k: len(getattr(self, k)) for k in ("ok",) + FAILURES + ("temporary", "policy", "inputs_gone")}

    def as_paths(self) -> dict[str, list[str]]:
        """Category -> paths."""
        return {k: [f.path for f in getattr(self, k)] for k in self.counts()}

    def lines(self, verbose: bool = False) -> list[str]:
        """A human-readable report: a summary line, then one line per problem (and per note when verbose)."""
        c = self.counts()
        head = (f"verify {self.root}: {self.n_records} provenance records, {c['ok']} artifacts ok, "
                + ", ".join(f"{c[k]} {k.replace('_', ' ')}" for k in FAILURES)
                + f"; {c['temporary']} leftover temporary, {c['policy']} unrecorded by policy"
                + (" -> PASSED" if self.passed else " -> FAILED"))
        out = [head]
        for k in FAILURES + ("temporary",) + (("inputs_gone",) if verbose else ()):
            for f in getattr(self, k):
                where = f" (rule {f.rule}, record {f.record})" if f.record else ""
                out.append(f"{k.upper()} {f.path}: {f.detail}{where}")
        if verbose:
            reasons: dict[str, int] = {}
            for f in self.policy:
                reasons[f.detail] = reasons.get(f.detail, 0) + 1
            out += [f"POLICY {n} file(s) not checked: {reason}" for reason, n in reasons.items()]
        return out


class NotARunFolder(ValueError):
    """A folder that holds run folders (results/) given where one run folder (results/<run_name>) was expected."""


def is_run_folder(path: Path) -> bool:
    """True for a folder a run of the workflow wrote (results/<run_name>): every rule logs to its logs/ folder."""
    return (path / "logs").is_dir()


def find_runs(root: Path, depth: int = 2) -> list[Path]:
    """The run folders at most `depth` levels under `root` (results/<run>, or <workdir>/results/<run>), none inside another."""
    if is_run_folder(root):
        return [root]
    if depth == 0:
        return []
    subs = (d for d in sorted(root.iterdir()) if d.is_dir() and not d.name.startswith("."))
    return [run for d in subs for run in find_runs(d, depth - 1)]


def _relative_parts_match(root: Path, rel: Path) -> Path | None:
    """The folder D with D / rel inside `root`, if `rel` starts with the last parts of `root` (e.g. results/<run>/...)."""
    rp, parts = root.parts, rel.parts
    for m in range(min(len(rp), len(parts) - 1), 0, -1):
        if rp[-m:] == parts[:m]:
            return Path(*rp[:-m]) if len(rp) > m else Path(rp[0])
    return None


def infer_workdir(root: Path, records: Iterable[dict]) -> Path:
    """The Snakemake working directory the records' relative paths start from (default: two levels above the run)."""
    for record in records:
        for out in record.get("outputs", {}):
            rel = Path(out)
            if not rel.is_absolute():
                base = _relative_parts_match(root, rel)
                if base is not None:
                    return base
    return root.parent.parent


def _policy_reason(rel: str) -> str | None:
    for pattern, reason in POLICY.items():
        if fnmatch.fnmatch(rel, pattern):
            return reason
    return None


def verify(root: str | os.PathLike, workdir: str | os.PathLike | None = None) -> Report:
    """Check every file under `root` (results/<run>) against the provenance records found there."""
    given = root
    root = Path(root).resolve()
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such run folder (expected results/<run_name>)")
    runs = [] if is_run_folder(root) else find_runs(root)
    if runs:
        raise NotARunFolder(f"{given}: not a run folder but a folder holding {len(runs)} run(s) "
                            f"({', '.join(str(r.relative_to(root)) for r in runs)}); give one of them "
                            "(python -m dgex.verify verifies each)")
    records: list[tuple[Path, dict]] = []
    bad: list[Finding] = []
    bad_paths: set[Path] = set()
    for rec_path in sorted(root.rglob("*" + PROV_SUFFIX)):
        if rec_path.name.startswith(".tmp-"):
            continue
        try:
            record = json.loads(rec_path.read_text())
            if not isinstance(record.get("outputs"), dict) or not isinstance(record.get("inputs", {}), dict):
                raise ValueError("no 'outputs' mapping")
        except (ValueError, UnicodeDecodeError) as exc:
            bad.append(Finding(_show(rec_path, root), detail=f"unreadable provenance record ({type(exc).__name__}: {exc})"))
            bad_paths.add(rec_path)
            continue
        records.append((rec_path, record))
    base = Path(workdir).resolve() if workdir is not None else infer_workdir(root, (r for _, r in records))
    report = Report(str(given), str(base), bad_record=bad, n_records=len(records))

    digests: dict[Path, str] = {}

    def sha(p: Path) -> str:
        if p not in digests:
            digests[p] = sha256_file(p)
        return digests[p]

    def resolve(path: str) -> Path:
        p = Path(path)
        return (p if p.is_absolute() else base / p).resolve()

    listed: set[Path] = {rec_path for rec_path, _ in records} | bad_paths
    claimed: dict[Path, tuple[str, str]] = {}  # artifact -> (record, digest) of the first record that lists it
    for rec_path, record in records:
        rec_name, rule = _show(rec_path, root), str(record.get("rule", "?"))
        for out, digest in sorted(record["outputs"].items()):
            p = resolve(out)
            listed.add(p)
            if p in claimed and claimed[p][1] != digest:
                report.mismatch.append(Finding(out, rec_name, rule, f"also recorded by {claimed[p][0]} with another sha256"))
                continue
            claimed.setdefault(p, (rec_name, digest))
            if not p.is_file():
                report.missing.append(Finding(out, rec_name, rule, "recorded output is absent"))
            elif sha(p) != digest:
                report.mismatch.append(Finding(out, rec_name, rule, f"sha256 {sha(p)[:12]}... differs from recorded "
                                               f"{digest[:12]}..."))
            else:
                report.ok.append(Finding(out, rec_name, rule))
    # an input that differs from what its consumer recorded: stale, unless it is itself a damaged (mismatched) artifact
    damaged = {resolve(f.path) for f in report.mismatch}
    for rec_path, record in records:
        rec_name, rule = _show(rec_path, root), str(record.get("rule", "?"))
        for inp, digest in sorted(record.get("inputs", {}).items()):
            p = resolve(inp)
            if p in damaged:
                continue
            if not p.is_file():
                report.inputs_gone.append(Finding(inp, rec_name, rule, "input no longer present"))
            elif sha(p) != digest:
                report.stale.append(Finding(inp, rec_name, rule,
                                            f"input changed since the artifacts of this record were made "
                                            f"(sha256 {sha(p)[:12]}... vs recorded {digest[:12]}...); rerun the workflow"))
    for f in sorted(root.rglob("*")):
        if not f.is_file() or f.resolve() in listed:
            continue
        rel = f.relative_to(root).as_posix()
        if fnmatch.fnmatch(f.name, TEMPORARY):
            report.temporary.append(Finding(_show(f, root), detail="temporary file of an interrupted write (safe to delete)"))
        elif (reason := _policy_reason(rel)) is not None:
            report.policy.append(Finding(_show(f, root), detail=reason))
        else:
            report.orphan.append(Finding(_show(f, root), detail="no provenance record lists this file"))
    return report


def _show(p: Path, root: Path) -> str:
    """A path for messages: relative to the run folder's parent's parent when possible (results/<run>/...)."""
    try:
        return p.relative_to(root.parent.parent).as_posix()
    except ValueError:
        return str(p)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: verify one run folder, print the report, return the exit status."""
    ap = argparse.ArgumentParser(prog="python -m dgex.verify", description=__doc__.splitlines()[0])
    ap.add_argument("root", help="the run folder, results/<run_name> (or results/: every run in it)")
    ap.add_argument("--workdir", help="Snakemake working directory the records' paths are relative to (default: inferred)")
    ap.add_argument("--json", help="also write the full report as JSON to this file")
    ap.add_argument("--verbose", action="store_true", help="also list files left out by policy and inputs no longer present")
    ap.add_argument("--quiet", action="store_true", help="print only the summary line")
    args = ap.parse_args(argv)
    root = Path(args.root)
    try:
        reports, several = [verify(root, args.workdir)], False
    except NotARunFolder:  # results/: each run in it
        runs = [root / r.relative_to(root.resolve()) for r in find_runs(root.resolve())]
        print(f"{root}: not a run folder; verifying the {len(runs)} run folder(s) in it: {', '.join(map(str, runs))}")
        reports, several = [verify(run, args.workdir) for run in runs], True
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for report in reports:
        lines = report.lines(args.verbose)
        print("\n".join(lines[:1] if args.quiet else lines))
    passed = all(r.passed for r in reports)
    if several:
        print(f"{root}: {sum(r.passed for r in reports)} of {len(reports)} runs passed -> {'PASSED' if passed else 'FAILED'}")
    if args.json:
        from .io import write_text

        data = [{"passed": r.passed, "counts": r.counts()} | asdict(r) for r in reports]
        doc = {"passed": passed, "runs": data} if several else data[0]
        write_text(args.json, json.dumps(doc, indent=1) + "\n")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
