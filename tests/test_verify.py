"""Artifact verification (dgex.verify, `snakemake verify_results`) and safe model loading."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from helpers import REPO, run_snakemake
from dgex.provenance import sha256_file, write_provenance
from dgex.verify import infer_workdir, main, verify

RUN = "results/tiny"


def copy_run(src: Path, dst: Path) -> Path:
    """A private copy of a finished run (its results and config), so tests can damage it."""
    shutil.copytree(src / "results", dst / "results")
    shutil.copy2(src / "config.yaml", dst / "config.yaml")
    return dst


def flip_byte(path: Path, offset: int | None = None) -> None:
    """Corrupt exactly one byte of a file in place."""
    data = bytearray(path.read_bytes())
    i = len(data) // 2 if offset is None else offset
    data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dgex.verify", *args], cwd=cwd, capture_output=True, text=True, timeout=120)


@pytest.fixture
def run_copy(tiny_run, tmp_path) -> Path:
    return copy_run(tiny_run, tmp_path / "run")


def test_complete_run_verifies_clean(run_copy):
    report = verify(run_copy / RUN)
    assert report.passed, "\n".join(report.lines())
    assert report.workdir == str(run_copy.resolve())
    assert len(report.ok) > 50 and not report.temporary
    # every model file is recorded (best_rnaseq.keras included), and only logs/benchmarks/checkpoints go unrecorded
    assert any(f.path.endswith("best_rnaseq.keras") for f in report.ok)
    for f in report.policy:
        rel = Path(f.path).relative_to(RUN).as_posix()
        assert rel.split("/")[0] in {"logs", "benchmarks", "checkpoints"} or rel.startswith("report"), f.path


@pytest.mark.parametrize("artifact", [
    "models/dgex/h1x16_d10/part0/best_geo.keras",
    "predictions/lr/geo_te.h5",
    "tables/summary_gtex_te.tsv",
    "figures/scatter_geo_te.png",
    "raw/geo.gctx",
])
def test_one_corrupt_byte_is_named(run_copy, artifact):
    flip_byte(run_copy / RUN / artifact)
    proc = cli(RUN, cwd=run_copy)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    problems = [line for line in proc.stdout.splitlines()[1:] if not line.startswith("TEMPORARY")]
    assert len(problems) == 1 and problems[0].startswith(f"MISMATCH {RUN}/{artifact}: sha256"), proc.stdout
    assert "1 mismatch" in proc.stdout and "FAILED" in proc.stdout


def test_missing_orphan_stale_bad_record_and_temporaries(run_copy):
    R = run_copy / RUN
    (R / "evaluation" / "lr" / "geo_va.tsv").unlink()                         # missing
    (R / "tables" / "notes.txt").write_text("hand-made\n")                     # orphan
    (R / "splits" / ".tmp-12345-geo_te.h5").write_bytes(b"\x89HDF")            # left by a killed write
    (R / "report.html").write_text("<html></html>")                           # snakemake --report: policy
    (R / "partitions" / "targets.tsv.prov.json").write_text("{ truncated")     # unreadable record
    # an upstream artifact rewritten with a consistent record, its downstream not rerun: the downstream is stale
    split = R / "splits" / "gtex_te.h5"
    rec_path = R / "splits" / "gtex_te.h5.prov.json"
    rec = json.loads(rec_path.read_text())
    flip_byte(split)
    rec["outputs"][f"{RUN}/splits/gtex_te.h5"] = sha256_file(split)
    rec_path.write_text(json.dumps(rec))

    report = verify(R)
    paths = report.as_paths()
    assert not report.passed
    assert paths["missing"] == [f"{RUN}/evaluation/lr/geo_va.tsv"]
    # the file whose record is unreadable is no longer vouched for either
    assert sorted(paths["orphan"]) == [f"{RUN}/partitions/targets.tsv", f"{RUN}/tables/notes.txt"]
    assert paths["bad_record"] == [f"{RUN}/partitions/targets.tsv.prov.json"]
    assert paths["temporary"] == [f"{RUN}/splits/.tmp-12345-geo_te.h5"]
    assert f"{RUN}/report.html" in paths["policy"]
    stale = {(f.path, f.rule) for f in report.stale}
    assert {p for p, _ in stale} == {f"{RUN}/splits/gtex_te.h5"}
    assert {"train_dgex", "evaluate_predictions"} <= {r for _, r in stale}
    assert paths["mismatch"] == []
    text = "\n".join(report.lines())
    for word in ("MISSING", "ORPHAN", "STALE", "BAD_RECORD", "TEMPORARY"):
        assert word in text


def test_paths_resolve_from_any_directory(run_copy, tmp_path):
    # records hold paths relative to the Snakemake working directory; verification works from elsewhere too
    proc = cli(str(run_copy / RUN), "--json", str(tmp_path / "report.json"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["passed"] and data["counts"]["ok"] > 50 and data["counts"]["orphan"] == 0
    assert infer_workdir((run_copy / RUN).resolve(), [{"outputs": {f"{RUN}/x.h5": "0"}}]) == run_copy.resolve()
    assert cli(str(tmp_path / "results" / "nothing"), cwd=tmp_path).returncode == 2


def test_synthetic_records(tmp_path, monkeypatch):
    # a made-up run: one rule, one input, two outputs; then a change to each
    root = tmp_path / "results" / "r"
    (root / "a").mkdir(parents=True)
    inp, out1, out2 = root / "a" / "in.txt", root / "a" / "out.tsv", root / "a" / "out.md"
    inp.write_text("input\n")
    out1.write_text("x\t1\n")
    out2.write_text("# x\n")
    monkeypatch.chdir(tmp_path)
    write_provenance("results/r/a/out.tsv.prov.json", "make_x", ["results/r/a/in.txt"],
                     ["results/r/a/out.tsv", "results/r/a/out.md", "results/r/a/out.tsv.prov.json"], {}, 0.0)
    # the input is not an output of any rule: it is an orphan, unless a record lists it
    assert verify(root).as_paths()["orphan"] == ["results/r/a/in.txt"]
    write_provenance("results/r/a/in.txt.prov.json", "make_in", [], ["results/r/a/in.txt"], {}, 0.0)
    assert verify(root).passed
    out2.write_text("# y\n")
    assert verify(root).as_paths()["mismatch"] == ["results/r/a/out.md"]
    assert main([str(root), "--quiet"]) == 1


def test_folder_of_runs_verifies_each_run(run_copy, monkeypatch):
    """`python -m dgex.verify results` (the parent) checks every run in it, instead of calling its logs orphans."""
    monkeypatch.chdir(run_copy)
    other = run_copy / "results" / "other"  # a second, one-rule run beside results/tiny
    (other / "logs").mkdir(parents=True)
    (other / "logs" / "make_x.log").write_text("done\n")
    (other / "x.tsv").write_text("x\t1\n")
    write_provenance("results/other/x.tsv.prov.json", "make_x", [], ["results/other/x.tsv", "results/other/x.tsv.prov.json"],
                     {}, 0.0)
    proc = cli("results", cwd=run_copy)
    assert "verifying the 2 run folder(s) in it: results/other, results/tiny" in proc.stdout, proc.stdout[:3000]
    assert proc.returncode == 0 and "2 of 2 runs passed -> PASSED" in proc.stdout and "ORPHAN" not in proc.stdout
    from dgex.verify import NotARunFolder

    with pytest.raises(NotARunFolder, match="results: not a run folder but a folder holding 2 run"):
        verify(run_copy / "results")
    (other / "x.tsv").write_text("x\t2\n")
    proc = cli("results", "--json", "report.json", cwd=run_copy)
    assert proc.returncode == 1 and "MISMATCH results/other/x.tsv: sha256" in proc.stdout, proc.stdout
    assert "ORPHAN" not in proc.stdout and "1 of 2 runs passed -> FAILED" in proc.stdout
    data = json.loads((run_copy / "report.json").read_text())
    assert not data["passed"] and [r["passed"] for r in data["runs"]] == [False, True]


def test_verify_results_target(run_copy):
    ok = run_snakemake(run_copy, "verify_results")
    log = (run_copy / RUN / "logs" / "verify_results.log").read_text()
    assert "PASSED" in log and "0 mismatch" in log, ok.stdout + ok.stderr
    # not part of the default target: a complete run has nothing left to do, and the dry run plans no verification
    dry = run_snakemake(run_copy, "-n")
    assert not re.search(r"rule verify_results|^verify_results\s+1", dry.stdout + dry.stderr, re.M), dry.stdout
    flip_byte(run_copy / RUN / "splits" / "geo_va.h5")
    bad = run_snakemake(run_copy, "verify_results", check=False)
    text = bad.stdout + bad.stderr
    assert bad.returncode != 0
    assert "verify_results" in text and f"MISMATCH {RUN}/splits/geo_va.h5" in text


# --------------------------------------------------------------------------- safe loading
def test_models_load_only_in_safe_mode(tiny_run, tmp_path):
    import keras

    from dgex.io import InputError
    from dgex.matrix import load_matrix
    from dgex.network import load_model, predict

    R = tiny_run / RUN
    # the workflow's own model file loads and reproduces the predictions saved beside it
    model = load_model(R / "models" / "dgex" / "h1x16_d10" / "part0" / "best_geo.keras")
    X = load_matrix(R / "splits" / "geo_te.h5", genes="landmarks").values
    saved = load_matrix(R / "models" / "dgex" / "h1x16_d10" / "part0" / "pred_geo_te.h5").values
    np.testing.assert_allclose(predict(model, X), saved, rtol=1e-5, atol=1e-6)
    # a model that carries code (a Lambda layer) is refused: safe mode does not run it
    inputs = keras.Input(shape=(3,))
    evil = keras.Model(inputs, keras.layers.Lambda(lambda x: x * 2)(inputs))
    evil.save(tmp_path / "evil.keras")
    with pytest.raises(InputError, match="cannot load model safely"):
        load_model(tmp_path / "evil.keras")
    # other formats (legacy HDF5 models, pickles) are not model files of this project
    (tmp_path / "legacy.keras").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 64)
    with pytest.raises(InputError, match="not a .keras model file"):
        load_model(tmp_path / "legacy.keras")


UNSAFE = {
    r"safe_mode\s*=\s*False": "Keras safe mode turned off",
    r"allow_pickle\s*=\s*True": "numpy pickle loading",
    r"\bpickle\.loads?\(|\bjoblib\.load\(|\btorch\.load\(": "pickle-based loading",
    r"\byaml\.load\((?![^)]*SafeLoader)": "yaml.load without SafeLoader",
    r"\beval\(|\bexec\(": "eval/exec",
}


def test_no_unsafe_loading_in_the_code():
    sources = sorted((REPO / "workflow_scripts").rglob("*.py")) + sorted((REPO / "rules").glob("*.smk")) + [REPO / "Snakefile"]
    found = []
    for path in sources:
        text = path.read_text()
        for pattern, what in UNSAFE.items():
            for m in re.finditer(pattern, text):
                found.append(f"{path.relative_to(REPO)}:{text[: m.start()].count(chr(10)) + 1}: {what}")
        # Keras models are loaded only through dgex.network.load_model (safe mode, project format only)
        if path.name != "network.py" and re.search(r"(keras\.saving|keras\.models|tf\.keras\.models)\.load_model\(", text):
            found.append(f"{path.relative_to(REPO)}: loads a Keras model outside dgex.network.load_model")
    assert not found, "\n".join(found)


def _urls(node, key: str = "url") -> list[str]:
    """Every string under `key` in a nested config or schema (its value or its default)."""
    out = []
    if isinstance(node, dict):
        for k, v in node.items():
            if k == key and isinstance(v, str):
                out.append(v)
            elif k == key and isinstance(v, dict) and isinstance(v.get("default"), str):
                out.append(v["default"])
            else:
                out += _urls(v, key)
    elif isinstance(node, list):
        for v in node:
            out += _urls(v, key)
    return out


def test_default_download_urls_are_https():
    urls = _urls(yaml.safe_load((REPO / "schemas" / "config.schema.yaml").read_text()))
    urls += _urls(yaml.safe_load((REPO / "config.yaml").read_text()))
    for url in urls:
        assert url.startswith("https://"), f"download over plain {url.split(':')[0]}: {url}"
