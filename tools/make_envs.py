"""Write envs/*.yaml, the conda environments of `snakemake --sdm conda`, from requirements.txt.

Each environment lists the packages its rules' scripts import (tests/test_envs.py checks that statically) at the
versions pinned in requirements.txt, so conda jobs run the library versions the test suite ran. Python and pip come
from conda-forge; the packages from PyPI through pip, as the same wheels `make setup` installs.

    python tools/make_envs.py           # rewrite envs/*.yaml
    python tools/make_envs.py --check   # exit 1 if they differ from what this would write
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from dgex.io import write_text

REPO = Path(__file__).resolve().parents[1]
PYTHON = "3.11"
# environment -> (what runs in it, the distributions its rules' scripts import)
ENVS = {
    "data": ("Preprocessing, baselines, evaluation and verification",
             ["numpy", "pandas", "scipy", "scikit-learn", "threadpoolctl", "h5py", "cmapPy"]),
    "dgex": ("D-GEX training, interpretation and inference (GPU nodes: tensorflow[and-cuda] instead of tensorflow-cpu)",
             ["tensorflow-cpu", "keras", "numpy", "pandas", "h5py", "cmapPy", "matplotlib", "psutil"]),
    "report": ("Tables and figures", ["numpy", "pandas", "matplotlib", "h5py", "cmapPy"]),
}


def normalize(name: str) -> str:
    """A distribution name in its canonical form (PEP 503): lower case, runs of -_. as one -."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pins(path: Path = REPO / "requirements.txt") -> dict[str, str]:
    """Canonical distribution name -> 'Name==version' line of a pinned requirements file."""
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, sep, version = line.partition("==")
            if not sep:
                raise ValueError(f"{path}: {line!r} is not pinned (name==version)")
            pins[normalize(name)] = f"{name.strip()}=={version.strip()}"
    return pins


def render(env: str, pins: dict[str, str]) -> str:
    """The YAML text of one environment."""
    what, packages = ENVS[env]
    missing = [p for p in packages if normalize(p) not in pins]
    if missing:
        raise ValueError(f"envs/{env}.yaml: {missing} not pinned in requirements.txt")
    lines = [f"# {what}.",
             "# For `snakemake --sdm conda`; written by tools/make_envs.py from requirements.txt: edit the lists there.",
             "channels:", "  - conda-forge", "dependencies:", f"  - python={PYTHON}", "  - pip", "  - pip:"]
    lines += [f"      - {pins[normalize(p)]}" for p in packages]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="only compare envs/*.yaml with what would be written")
    args = p.parse_args(argv)
    pins = read_pins()
    stale = []
    for env in ENVS:
        path, text = REPO / "envs" / f"{env}.yaml", render(env, pins)
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(str(path.relative_to(REPO)))
        else:
            write_text(path, text)
    if stale:
        print(f"out of date: {', '.join(stale)}; run python tools/make_envs.py", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
