"""The contracts between rules, scripts and the library, checked before work is done: the provenance output, the seed,
the HDF5 timestamp patch, and the one home of the splits."""
from __future__ import annotations

import importlib
import json
import subprocess
import time

import h5py
import pytest
from helpers import REPO, SNAKEMAKE, write_config

from dgex import layout
from dgex.reproducible import h5_create, untimed_h5_datasets

SEEDED_SCRIPT = '''
from pathlib import Path
from dgex import rulekit

def main(smk, log):
    Path(smk.output.data).write_text("done")

rulekit.run(snakemake, main{seed})  # noqa: F821
'''


def dry_run(workdir, snakefile) -> subprocess.CompletedProcess:
    return subprocess.run(SNAKEMAKE + ["-s", str(snakefile), "--directory", str(workdir), "--configfile",
                                       str(workdir / "config.yaml"), "-n", "--cores", "1"],
                          capture_output=True, text=True, timeout=300)


def test_a_script_rule_without_a_record_is_refused_when_the_workflow_is_parsed(tmp_path):
    """The workflow passes its own check; a script rule without an output named 'provenance' fails it, before any job."""
    write_config(tmp_path)
    ok = dry_run(tmp_path, REPO / "Snakefile")
    assert ok.returncode == 0, ok.stderr[-3000:]
    snakefile = tmp_path / "Snakefile"
    snakefile.write_text(f'include: "{REPO / "Snakefile"}"\n\n\n'
                         f'rule no_record:\n    output:\n        "x.txt",\n    script:\n'
                         f'        "{REPO / "workflow_scripts" / "assign_splits.py"}"\n\n\n'
                         "check_rule_contracts()\n")
    bad = dry_run(tmp_path, snakefile)
    text = bad.stdout + bad.stderr
    assert bad.returncode != 0
    assert "rule no_record: runs" in text and "no output named 'provenance'" in text, text[-3000:]


@pytest.mark.parametrize("passes_seed", [False, True])
def test_a_seeded_rule_must_pass_its_seed_to_rulekit(tmp_path, passes_seed):
    """params.seed without seed= in the script fails before the script's work; passed, it is the record's seed."""
    (tmp_path / "job.py").write_text(SEEDED_SCRIPT.format(seed=", seed=snakemake.params.seed" if passes_seed else ""))
    (tmp_path / "Snakefile").write_text(
        'rule seeded:\n    output:\n        data="out/data.txt",\n        provenance="out/data.txt.prov.json",\n'
        '    params:\n        seed=7,\n    log:\n        "out/seeded.log",\n    script:\n        "job.py"\n')
    proc = subprocess.run(SNAKEMAKE + ["-s", str(tmp_path / "Snakefile"), "--directory", str(tmp_path), "--cores", "1"],
                          capture_output=True, text=True, timeout=300)
    if passes_seed:
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert json.loads((tmp_path / "out" / "data.txt.prov.json").read_text())["seed"] == 7
    else:
        assert proc.returncode != 0
        assert "rule seeded: it has params.seed, but its script does not pass seed= to rulekit.run" in \
            (tmp_path / "out" / "seeded.log").read_text()
        assert not (tmp_path / "out" / "data.txt").exists()  # refused before the work


def test_untimed_h5_datasets_is_scoped_to_its_block(tmp_path):
    """Importing the library patches nothing; inside the block h5py datasets default to no timestamps (equal data, equal
    bytes a second later), and h5py is restored when the block ends, also on an error."""
    for module in sorted((REPO / "workflow_scripts" / "dgex").glob("*.py")):
        importlib.import_module(f"dgex.{module.stem}")
    original = h5py.Group.create_dataset
    assert original.__module__ == "h5py._hl.group"

    def write() -> bytes:
        with untimed_h5_datasets(), h5_create(tmp_path / "x.h5") as f:
            assert h5py.Group.create_dataset is not original
            f.create_dataset("x", data=[1, 2, 3])
        return (tmp_path / "x.h5").read_bytes()

    first = write()
    time.sleep(1.1)
    assert write() == first
    with pytest.raises(RuntimeError), untimed_h5_datasets():
        raise RuntimeError("a failed write")
    assert h5py.Group.create_dataset is original


def test_the_layout_is_the_one_home_of_splits_and_criteria():
    """Every test split is scored and has a scored validation split; each criterion's model predicts its own splits."""
    assert set(layout.TEST_SPLITS) <= set(layout.EVAL_SPLITS) and set(layout.VALIDATION_OF.values()) <= set(layout.EVAL_SPLITS)
    assert layout.splits(rnaseq=False) == list(layout.GEO_SPLITS)
    assert layout.eval_splits(rnaseq=False) == ["geo_va", "geo_te"] and layout.test_splits(rnaseq=False) == ["geo_te"]
    assert layout.criterion_splits("geo") == ["geo_va", "geo_te"]
    assert layout.criterion_splits("rnaseq") == ["g1000_va", "gtex_te"]
    assert [layout.selection_split(s) for s in layout.EVAL_SPLITS] == ["geo_va", "geo_va", "g1000_va", "g1000_va"]
    assert {layout.dataset_of(s) for s in layout.SPLITS} == set(layout.DATASETS)
    # the scripts and rules read the splits from dgex.layout, not from copies of their own
    copies = [p.name for p in sorted((REPO / "workflow_scripts").glob("*.py")) + sorted((REPO / "rules").glob("*.smk"))
              if '"geo_te": "geo_va"' in p.read_text()]
    assert not copies, copies
