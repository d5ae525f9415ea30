"""Project metadata: the license, the Snakemake workflow catalog's files, the supported Python versions."""
import re
import sys
import tomllib

import yaml

from helpers import REPO


def test_license_is_the_mit_license_pyproject_declares():
    text = (REPO / "LICENSE").read_text()
    assert text.startswith("MIT License\n") and "Copyright (c) 2026 The D-GEX workflow authors" in text
    assert "THE SOFTWARE IS PROVIDED \"AS IS\"" in text
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["license"] == {"text": "MIT"}


def test_python_version_is_within_requires_python():
    spec = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"]
    low, high = re.fullmatch(r">=3\.(\d+),<3\.(\d+)", spec).groups()
    assert int(low) <= sys.version_info.minor < int(high), (spec, sys.version)


def test_workflow_catalog_files_fit_the_root_layout():
    """.snakemake-workflow-catalog.yml with the keys the catalog reads; config/README.md covers every config section."""
    usage = yaml.safe_load((REPO / ".snakemake-workflow-catalog.yml").read_text())["usage"]
    assert set(usage) == {"mandatory-flags", "software-stack-deployment", "report"} and usage["report"] is True
    assert usage["mandatory-flags"]["desc"] and isinstance(usage["mandatory-flags"]["flags"], list)
    assert usage["software-stack-deployment"]["conda"] is True
    assert (REPO / "Snakefile").is_file() and (REPO / "config.yaml").is_file()
    guide = (REPO / "config" / "README.md").read_text()
    assert "`config.yaml`" in guide and "schemas/config.schema.yaml" in guide
    missing = [k for k in yaml.safe_load((REPO / "config.yaml").read_text()) if f"`{k}`" not in guide]
    assert not missing, f"config/README.md does not mention the config section(s) {missing}"
    assert list((REPO / "config").iterdir()) == [REPO / "config" / "README.md"]  # config.yaml stays at the root
