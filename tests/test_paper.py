"""The paper as a configuration: the presets, the published values beside a paper-sized run's, and the architecture that
inference uses when none is named (the one selected on validation)."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml
from helpers import REPO, deep_update, run_snakemake, write_config
from snakemake.utils import validate

from dgex.paper_values import (PAPER_LANDMARKS, PAPER_TARGETS, PAPER_VALUES, SELECTED_DGEX, paper_value, scale_caveat,
                               show_paper_values)
from dgex.artifacts import gene_set_size
from dgex.comparisons import improvement_table, improvement_with_paper_values, summary, with_paper_values
from dgex.render import to_markdown
from dgex.tables import improvement_document, summary_document

SCHEMA = REPO / "schemas" / "config.schema.yaml"
PRESETS = {"paper": REPO / "configs" / "paper.yaml", "paper-original": REPO / "configs" / "paper-original.yaml"}


def merged_preset(name: str) -> dict:
    """A preset as Snakemake sees `--configfile configs/<name>.yaml`: merged over config.yaml, then validated."""
    cfg = deep_update(yaml.safe_load((REPO / "config.yaml").read_text()), yaml.safe_load(PRESETS[name].read_text()))
    validate(cfg, str(SCHEMA))
    return cfg


def flatten(d: dict, prefix: str = "") -> dict:
    """Nested settings as {"section.key": value}."""
    out = {}
    for k, v in d.items():
        out |= flatten(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v}
    return out


# --------------------------------------------------------------------------- presets
@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_validate_and_are_the_paper(name):
    cfg = merged_preset(name)
    d = cfg["dgex"]
    assert cfg["run_name"] == name and cfg["data"]["source"] == "download" and cfg["data"]["rnaseq"] is True
    assert (d["layers"], d["units"], d["dropout"]) == ([1, 2, 3], [3000, 6000, 9000], [0.0, 0.1, 0.25])
    assert (d["epochs"], d["batch_size"], d["momentum"], d["learning_rate"]) == (200, 200, 0.5, [5e-4, 3e-4])
    assert (d["lr_scale_after_first"], d["lr_decay"], d["lr_min"], d["monitor_size"]) == (3.0, 0.9, 1e-5, 5000)
    assert cfg["baselines"]["methods"] == ["lr", "lr_l1", "lr_l2", "knn"]
    assert cfg["partitions"] == {**cfg["partitions"], "method": "random", "n_parts": 2}
    assert cfg["tables"]["paper_values"] is True
    # every science setting is the preset's own: none is left to the demo's config.yaml underneath
    preset = flatten(yaml.safe_load(PRESETS[name].read_text()))
    demo = flatten(yaml.safe_load((REPO / "config.yaml").read_text()))
    science = ("genes.", "dedup.", "quantile_normalization.", "standardization.", "splits.", "partitions.", "dgex.",
               "baselines.", "interpretation.", "inference.")
    run_options = ("dgex.distribute", "dgex.memory_limit_gb")
    leaked = [k for k in demo if k.startswith(science) and k not in preset and k not in run_options]
    assert not leaked, f"{name}: demo settings leak into the paper run: {leaked}"


def test_paper_original_differs_only_in_the_original_preprocessing():
    paper, original = (flatten(merged_preset(n)) for n in ("paper", "paper-original"))
    diff = {k: (paper[k], original[k]) for k in paper if paper[k] != original[k]}
    assert diff == {"run_name": ("paper", "paper-original"), "quantile_normalization.reference": ("geo_tr", "geo_all"),
                    "quantile_normalization.ties": ("average", "original"),
                    "standardization.stats": ("geo_tr", "per_dataset")}
    assert "Table 2's scale is comparable to the paper's only under this preset" in PRESETS["paper-original"].read_text()


def test_per_depth_learning_rate_is_validated(tmp_path):
    for bad in ([], [5e-4, -1.0], "fast"):
        cfg = merged_preset("paper")
        cfg["dgex"]["learning_rate"] = bad
        with pytest.raises(Exception, match="learning_rate"):
            validate(cfg, str(SCHEMA))


DAG_SCRIPT = """
import json, sys
from pathlib import Path
from snakemake.api import SnakemakeApi
from snakemake.settings.types import ConfigSettings, DAGSettings, OutputSettings, ResourceSettings, WorkflowSettings
snakefile, workdir, configfile = sys.argv[1:4]
with SnakemakeApi(OutputSettings(quiet={"all"})) as api:
    wf = api.workflow(resource_settings=ResourceSettings(cores=2), config_settings=ConfigSettings(configfiles=[Path(configfile)]),
                      snakefile=Path(snakefile), workdir=Path(workdir))
    workflow = wf.dag(DAGSettings()).workflow_api._workflow
    workflow._prepare_dag(forceall=False, ignore_incomplete=True, lock_warn_only=True)
    workflow._build_dag()
    jobs = [{"rule": j.rule.name, "wildcards": dict(j.wildcards_dict), "params": dict(j.params.items())
             if j.rule.name == "train_dgex" else {}} for j in workflow.dag.jobs]
print("JOBS=" + json.dumps(jobs, default=str))
"""


@pytest.mark.slow
def test_paper_preset_plans_54_training_jobs_with_the_paper_rates(tmp_path):
    """`snakemake -n --configfile configs/paper.yaml` in a checkout (config.yaml beneath it): the paper's DAG."""
    (tmp_path / "config.yaml").write_text((REPO / "config.yaml").read_text())
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(tmp_path),
           "--configfile", str(PRESETS["paper"]), "-n", "--cores", "2", "--quiet", "rules"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    counts = {line.split()[0]: int(line.split()[1]) for line in proc.stdout.splitlines()
              if len(line.split()) == 2 and line.split()[1].isdigit()}
    assert counts["train_dgex"] == 54 and counts["join_dgex_predictions"] == 27 * 4
    assert {f"download_{s}" for s in ("geo", "gtex", "g1000", "map_lm", "map_tg")} <= set(counts)
    assert {"fit_linear_regression", "fit_lasso_regression", "fit_ridge_regression", "fit_knn_ge"} <= set(counts)
    assert "generate_demo_data" not in counts
    # the same DAG through Snakemake's API, to read each training job's params
    proc = subprocess.run([sys.executable, "-c", DAG_SCRIPT, str(REPO / "Snakefile"), str(tmp_path), str(PRESETS["paper"])],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    jobs = json.loads(next(line for line in proc.stdout.splitlines() if line.startswith("JOBS="))[5:])
    train = [j for j in jobs if j["rule"] == "train_dgex"]
    assert len(train) == 54
    assert {(j["wildcards"]["arch"], j["wildcards"]["part"]) for j in train} == {
        (f"h{la}x{u}_d{d:02d}", str(p)) for la in (1, 2, 3) for u in (3000, 6000, 9000) for d in (0, 10, 25) for p in (0, 1)}
    for j in train:
        d = j["params"]["dgex"]
        assert d["learning_rate"] == (5e-4 if j["wildcards"]["arch"].startswith("h1x") else 3e-4), j["wildcards"]
        assert (d["epochs"], d["batch_size"], d["momentum"]) == (200, 200, 0.5)


# --------------------------------------------------------------------------- the published values
def test_published_values_are_consistent_with_the_abstract():
    """The overall errors reproduce the abstract's relative improvements (guards against a mistyped value)."""
    for split in ("geo_te", "gtex_te"):
        d, lr = paper_value(split, SELECTED_DGEX, "mae"), paper_value(split, "lr", "mae")
        assert round(100 * (lr - d) / lr, 2) == paper_value(split, "lr", "improvement_pct")
    assert {v.source for v in PAPER_VALUES} <= {"abstract", "tables"}
    assert paper_value("geo_te", "knn", "mae") is None  # not on record: left blank, never guessed


def test_auto_shows_the_published_values_only_on_the_paper_gene_sets():
    assert show_paper_values("auto", PAPER_LANDMARKS, PAPER_TARGETS)
    assert not show_paper_values("auto", 120, 600)  # the demo
    assert not show_paper_values("auto", PAPER_LANDMARKS, PAPER_TARGETS - 445)  # shared Ensembl ids dropped
    assert show_paper_values(True, 120, 600) and not show_paper_values(False, PAPER_LANDMARKS, PAPER_TARGETS)


def paper_shaped(seed: int = 0) -> tuple[dict, dict]:
    """Test and validation evaluations over the paper's 9,520 targets: LR, KNN-GE and two D-GEX architectures."""
    rng = np.random.default_rng(seed)
    genes = [f"T{i}" for i in range(PAPER_TARGETS)]

    def table(level):
        return pd.DataFrame({"gene": genes, "mae": level + 0.05 * rng.random(PAPER_TARGETS),
                             "pearson": rng.random(PAPER_TARGETS)})

    levels = {"lr": 0.38, "knn": 0.52, "dgex_h3x9000_d10": 0.32, "dgex_h1x3000_d10": 0.35}
    return {m: table(v) for m, v in levels.items()}, {m: table(v) for m, v in levels.items()}


def test_table_1_shows_the_published_values_beside_the_run(tmp_path):
    test, val = paper_shaped()
    stats = tmp_path / "geo_gene_stats.tsv"
    pd.DataFrame({"gene": range(PAPER_LANDMARKS + PAPER_TARGETS),
                  "role": ["landmark"] * PAPER_LANDMARKS + ["target"] * PAPER_TARGETS}).to_csv(stats, sep="\t", index=False)
    assert show_paper_values("auto", *gene_set_size(stats))
    df = with_paper_values(summary(test, val), "geo_te")
    row = df.set_index("method")
    assert row.loc["lr", "paper_mae"] == 0.3784 and row.loc["dgex_h3x9000_d10", "paper_mae"] == 0.3204
    assert row.loc["lr", "paper_improvement_pct"] == 15.33 and row.loc["lr", "paper_share_genes_dgex_lower_pct"] == 99.97
    assert np.isnan(row.loc["knn", "paper_mae"]) and np.isnan(row.loc["dgex_h1x3000_d10", "paper_mae"])
    md = to_markdown(summary_document(df, "geo_te", 4, 2))
    header = next(line for line in md.splitlines() if line.startswith("| method"))
    cols = [c.strip() for c in header.strip("|").split("|")]
    assert cols.index("paper GEO-te MAE") == cols.index("GEO-te MAE") + 1  # beside the run's
    assert "| 0.3784 |" in md and "| 0.3204 |" in md and "15.33%" in md and "Chen et al." in md
    # GTEx-te: the scale caveat unless GTEx is standardized with its own statistics (configs/paper-original.yaml)
    md2 = to_markdown(summary_document(with_paper_values(summary(test, val), "gtex_te"), "gtex_te", 4, 2,
                                       scale_caveat(["gtex_te"], "geo_tr")))
    assert "| 0.4702 |" in md2 and "not on the paper's scale" in md2
    assert scale_caveat(["gtex_te"], "per_dataset") is None and scale_caveat(["geo_te"], "geo_tr") is None


def test_improvement_table_shows_the_published_values():
    test, val = paper_shaped(1)
    df = improvement_with_paper_values(improvement_table({"geo_te": test, "gtex_te": test}, {"geo_te": val, "gtex_te": val}))
    lr = df.set_index(["split", "baseline"])
    assert lr.loc[("geo_te", "lr"), "paper_baseline_mae"] == 0.3784 and lr.loc[("gtex_te", "lr"), "paper_dgex_mae"] == 0.4393
    assert lr.loc[("gtex_te", "lr"), "paper_share_genes_dgex_lower_pct"] == 81.31
    assert np.isnan(lr.loc[("geo_te", "knn"), "paper_baseline_mae"])
    md = to_markdown(improvement_document(df, 4, 2))
    assert "paper improvement" in md and "6.57%" in md


def test_the_demo_gets_no_published_values(tiny_run):
    """A real (tiny demo-shaped) run: auto leaves the paper's columns out of every table and the report's HTML."""
    R = tiny_run / "results" / "tiny" / "tables"
    for name in ("summary_geo_te", "summary_gtex_te", "improvement"):
        assert not [c for c in pd.read_csv(R / f"{name}.tsv", sep="\t").columns if c.startswith("paper_")], name
        md = (R / f"{name}.md").read_text()
        assert "Paper columns" not in md and "| paper " not in md, name
        assert "Chen et al." not in (R / f"{name}.html").read_text()


# --------------------------------------------------------------------------- inference on the selected architecture
@pytest.mark.slow
def test_inference_uses_the_architecture_selected_on_validation(tmp_path):
    """A grid whose first architecture (1 hidden unit) is not the best on GEO-va: the bundle and inference use the best.
    The same run forces the published values (tables.paper_values: true) through the table rules."""
    write_config(tmp_path, {"dgex": {"layers": [1], "units": [1, 64], "dropout": [0.0], "epochs": 8},
                            "partitions": {"method": "random", "n_parts": 1}, "baselines": {"methods": ["lr"]},
                            "interpretation": {"enabled": False}, "inference": {"input": "demo", "architecture": None},
                            "tables": {"paper_values": True}})
    run_snakemake(tmp_path)
    R = tmp_path / "results" / "tiny"
    table = pd.read_csv(R / "tables" / "summary_gtex_te.tsv", sep="\t").set_index("method")
    assert table.loc["lr", "paper_mae"] == 0.4702 and table.loc["lr", "paper_share_genes_dgex_lower_pct"] == 81.31
    assert "not on the paper's scale" in (R / "tables" / "summary_gtex_te.md").read_text()  # standardization.stats: geo_tr
    assert "| 0.3784 |" in (R / "tables" / "improvement.md").read_text()
    errors = {a: pd.read_csv(R / "evaluation" / f"dgex_{a}" / "geo_va.tsv", sep="\t")["mae"].mean()
              for a in ("h1x1_d00", "h1x64_d00")}
    best = min(errors, key=errors.get)
    assert best != "h1x1_d00", f"precondition: the first architecture must not be the best on GEO-va ({errors})"
    assert sorted(p.name for p in (R / "inference").iterdir()) == [best]
    assert (R / "inference" / best / "demo_l1000.gctx").exists()
    assert sorted(p.name for p in (R / "bundles").iterdir()) == [best]
    assert json.loads((R / "bundles" / best / "manifest.json").read_text())["architecture"] == best
    selection = json.loads((R / "selection" / "geo.json").read_text())
    assert selection["architecture"] == best and selection["validation_split"] == "geo_va"
    assert selection["validation_mae"] == pytest.approx(errors)


def test_interpretation_architectures_pick_the_jobs_and_are_checked(tmp_path):
    grid = {"dgex": {"layers": [1, 2], "units": [8], "dropout": [0.1]}}
    write_config(tmp_path, grid | {"interpretation": {"architectures": ["h2x8_d10"]}})
    out = run_snakemake(tmp_path, "-n").stdout
    assert "interpretation/h2x8_d10/linear_fits.tsv" in out
    assert "interpretation/h1x8_d10" not in out and "find_major_weights" not in out
    write_config(tmp_path, grid | {"interpretation": {"architectures": ["h3x8_d10"]}})
    proc = run_snakemake(tmp_path, "-n", check=False)
    assert proc.returncode != 0 and "interpretation.architectures: ['h3x8_d10'] not in the dgex grid" in proc.stdout + proc.stderr
