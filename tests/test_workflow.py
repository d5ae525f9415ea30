"""The whole workflow through Snakemake: lint, dry-run, and one complete tiny run whose outputs are checked."""
import json
import re
import subprocess

import numpy as np
import pandas as pd

from helpers import REPO, SNAKEMAKE, run_snakemake, write_config
from dgex.matrix import load_matrix
from dgex.provenance import sha256_file

# Python warnings ("x.py:12: RuntimeWarning: ...", also as logged by logging.captureWarnings) and TensorFlow's start-up notices
NOISE = re.compile(r"\b[A-Z]\w*Warning: |oneDNN custom operations|cpu_feature_guard|absl::InitializeLog")


def noise(text: str) -> list[str]:
    """The lines of a run's output that a clean run does not print."""
    return [line for line in text.splitlines() if NOISE.search(line)]


def test_lint_is_clean():
    proc = subprocess.run(SNAKEMAKE + ["--lint", "-s", str(REPO / "Snakefile"), "--directory", str(REPO)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Congratulations" in proc.stdout + proc.stderr


def test_dry_run_plans_the_whole_chain(tiny_workdir):
    out = run_snakemake(tiny_workdir, "-n").stdout
    for rule in ["generate_demo_data", "build_gene_matrix", "deduplicate_geo", "assign_splits", "build_quantile_reference",
                 "quantile_normalize", "standardize", "write_split", "partition_targets", "train_dgex",
                 "join_dgex_predictions", "fit_linear_regression", "evaluate_predictions", "make_summary_table",
                 "plot_per_gene_scatter"]:
        assert rule in out, f"rule {rule} missing from the dry-run plan"


def test_geo_only_dry_run_has_no_rnaseq_jobs(tmp_path):
    write_config(tmp_path, {"data": {"rnaseq": False}})
    proc = run_snakemake(tmp_path, "-n", "--printshellcmds")
    text = proc.stdout + proc.stderr
    assert "gtex_te" not in text and "g1000_va" not in text and "genes/gtex.h5" not in text
    assert "summary_geo_te" in text


def test_bad_config_value_is_named(tmp_path):
    write_config(tmp_path, {"dedup": {"distance": -1}})
    proc = run_snakemake(tmp_path, "-n", check=False)
    assert proc.returncode != 0
    assert "distance" in proc.stdout + proc.stderr


def test_tiny_run_outputs(tiny_run):
    R = tiny_run / "results" / "tiny"
    # splits: shapes, ids, finite standardized values
    splits = {s: load_matrix(R / "splits" / f"{s}.h5") for s in ["geo_tr", "geo_va", "geo_te", "g1000_va", "gtex_te"]}
    n_lm, n_tg = 20, 60
    for name, m in splits.items():
        assert m.n_landmarks == n_lm and len(m.targets) == n_tg, name
        assert np.isfinite(m.values).all(), name
    assert splits["gtex_te"].genes == splits["geo_tr"].genes
    kept = pd.read_csv(R / "dedup" / "geo_profiles.tsv", sep="\t")
    assert len(kept) == 330 and kept["kept"].sum() == 300  # the 30 re-deposited profiles are found
    n_geo = sum(len(splits[s].samples) for s in ["geo_tr", "geo_va", "geo_te"])
    assert n_geo == 300 and len(set().union(*(splits[s].samples for s in ["geo_tr", "geo_va", "geo_te"]))) == 300
    assert abs(float(splits["geo_tr"].values.mean())) < 0.05  # standardized with GEO-tr statistics
    # every method beats the trivial predictor (the training mean, 0 after standardization)
    for split in ["geo_te", "gtex_te"]:
        truth = splits[split]
        trivial = np.abs(truth.Y).mean(axis=0)
        for method in ["lr", "dgex_h1x16_d10"]:
            pred = load_matrix(R / "predictions" / method / f"{split}.h5")
            assert pred.values.shape == truth.Y.shape and pred.genes == truth.targets
            assert np.isfinite(pred.values).all()
            per_gene = pd.read_csv(R / "evaluation" / method / f"{split}.tsv", sep="\t")
            np.testing.assert_allclose(per_gene["mae"], np.abs(pred.values - truth.Y).mean(axis=0), rtol=1e-5)
            assert per_gene["mae"].mean() < trivial.mean(), (method, split)
    table = pd.read_csv(R / "tables" / "summary_geo_te.tsv", sep="\t")
    assert {"lr", "dgex_h1x16_d10"} <= set(table["method"])
    assert (R / "tables" / "summary_geo_te.md").read_text().startswith("# ")
    for split in ["geo_te", "gtex_te"]:
        png = (R / "figures" / f"scatter_{split}.png").read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    # provenance beside the artifacts
    rec = json.loads((R / "models" / "lr" / "model.npz.prov.json").read_text())
    assert rec["rule"] == "fit_linear_regression"
    assert rec["outputs"]["results/tiny/models/lr/model.npz"] == sha256_file(R / "models" / "lr" / "model.npz")
    assert rec["inputs"]["results/tiny/splits/geo_tr.h5"] == sha256_file(R / "splits" / "geo_tr.h5")
    # the report renders, without Python warnings (Snakemake's unawaited input.size_mb coroutines: docs/upstream.md)
    report = tiny_run / "report.html"
    proc = run_snakemake(tiny_run, "--report", str(report))
    html = report.read_text(errors="replace")
    assert "summary_geo_te.tsv" in html and "scatter_gtex_te.png" in html
    assert not noise(proc.stdout + proc.stderr), noise(proc.stdout + proc.stderr)[:5]


def test_tiny_run_prints_no_python_warning_nor_tensorflow_notices(tiny_run):
    """A clean run: no Python warning and no TensorFlow start-up lines on the console or in the job logs."""
    assert not noise((tiny_run / "snakemake.stderr").read_text()), noise((tiny_run / "snakemake.stderr").read_text())[:5]
    logs = sorted((tiny_run / "results" / "tiny" / "logs").rglob("*.log"))
    assert any("train_dgex" in str(p) for p in logs)
    for path in logs:
        assert not noise(path.read_text()), (path, noise(path.read_text())[:5])


def test_tiny_run_logs_progress_of_preprocessing(tiny_run):
    """Each preprocessing stage ends with a progress line (profiles done, rate, time taken), short as the demo is."""
    L = tiny_run / "results" / "tiny" / "logs"
    expected = {"deduplicate_geo.log": "dedup k-means labels: 330/330 profiles (100.0%)",
                "build_gene_matrix/geo.log": "probe means of results/tiny/raw/geo.gctx: 330/330 profiles (100.0%)",
                "quantile_normalize/geo.log": "quantile normalization of geo: 300/300 profiles (100.0%)",
                "build_quantile_reference.log": "quantile reference (geo_tr): ",
                "standardize/gtex.log": "standardization of gtex: 40/40 profiles (100.0%)"}
    for name, line in expected.items():
        text = (L / name).read_text()
        assert line in text and "profiles/s, took " in text, (name, text[-2000:])
