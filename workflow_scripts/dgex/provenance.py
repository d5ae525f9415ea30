"""Provenance records: what made an artifact (inputs, params, seed, versions, time), and their verification."""
from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import time
from importlib import metadata
from pathlib import Path
from typing import Any, Iterable, Mapping

from .io import write_text

PROV_SUFFIX = ".prov.json"
PACKAGES = ["numpy", "pandas", "scikit-learn", "tensorflow-cpu", "tensorflow", "keras", "cmapPy", "h5py", "snakemake",
            "matplotlib"]


def sha256_file(path: str | os.PathLike, bufsize: int = 1 << 22) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(bufsize):
            h.update(chunk)
    return h.hexdigest()


def package_versions() -> dict[str, str]:
    """Installed versions of the packages that shape results."""
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def source_sha256() -> str:
    """Hex sha256 of the dgex package source (every module's name and bytes)."""
    h = hashlib.sha256()
    for f in sorted(Path(__file__).resolve().parent.glob("*.py")):
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def code_version() -> dict[str, str]:
    """Git commit of the workflow (if any) and a hash of the dgex package source."""
    src = Path(__file__).resolve().parent
    out = {"dgex_source_sha256": source_sha256()}
    try:
        commit = subprocess.run(["git", "-C", str(src), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
        if commit.returncode == 0:
            out["git_commit"] = commit.stdout.strip()
            dirty = subprocess.run(["git", "-C", str(src), "status", "--porcelain", "--", "."], capture_output=True, text=True,
                                   timeout=10)
            out["git_dirty"] = str(bool(dirty.stdout.strip())).lower()
    except (OSError, subprocess.SubprocessError):
        pass
    return out


def _jsonable(x: Any) -> Any:
    if isinstance(x, Mapping):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (str, int, float, bool)) or x is None:
        return x
    if hasattr(x, "item"):
        return x.item()
    return str(x)


def params_sha256(params: Mapping[str, Any]) -> str:
    """Stable hash of a params mapping (the config slice that made an artifact)."""
    return hashlib.sha256(json.dumps(_jsonable(params), sort_keys=True).encode()).hexdigest()


def write_provenance(
    record_path: str | os.PathLike,
    rule: str,
    inputs: Iterable[str | os.PathLike],
    outputs: Iterable[str | os.PathLike],
    params: Mapping[str, Any],
    started: float,
    seed: int | None = None,
) -> dict:
    """Write the provenance record of one rule run (sha256 of every input and output file) atomically."""
    def digest(paths):
        return {str(p): sha256_file(p) for p in dict.fromkeys(map(str, paths)) if Path(p).is_file()}  # each file once

    record = {
        "rule": rule,
        "inputs": digest(inputs),
        "outputs": digest(o for o in outputs if str(o) != str(record_path)),
        "params": _jsonable(dict(params)),
        "params_sha256": params_sha256(params),
        "seed": seed,
        "packages": package_versions(),
        "code": code_version(),
        "host": platform.node(),
        "seconds": round(time.time() - started, 3),
        "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    write_text(record_path, json.dumps(record, indent=1, sort_keys=True) + "\n")
    return record


def from_snakemake(smk, started: float, seed: int | None = None) -> dict:
    """Write the record of a Snakemake script job to its output named 'provenance' (dgex.rulekit's contract)."""
    params = {k: v for k, v in smk.params.items()}
    outputs = [o for o in smk.output]
    return write_provenance(smk.output.provenance, smk.rule, list(smk.input), outputs, params, started, seed)
