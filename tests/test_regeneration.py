"""Editing the config regenerates exactly what the edit affects, judged from Snakemake's own dry-run and --list-changes."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml
from helpers import run_snakemake, write_config
from report_run import RUN, grid_config, report_run, snakemake_on_targets

pytestmark = pytest.mark.slow

FIGURE_RULES = {"plot_error_vs_architecture", "plot_error_density", "plot_per_gene_scatter", "plot_error_per_epoch",
                "plot_well_inferred"}
TABLE_RULES = {"make_summary_table", "make_dropout_table", "make_improvement_table", "make_pearson_table",
               "make_well_inferred_table"}
# rules that make data, models, predictions and evaluations: a figure or table setting must never rerun them
UPSTREAM_RULES = {"generate_demo_data", "build_gene_matrix", "deduplicate_geo", "assign_splits", "build_quantile_reference",
                  "quantile_normalize", "standardize", "write_split", "partition_targets", "train_dgex",
                  "join_dgex_predictions", "fit_linear_regression", "fit_lasso_regression", "fit_ridge_regression",
                  "fit_knn_ge", "evaluate_predictions"}
JOB_RE = re.compile(r"^(?:local)?rule (\w+):\n((?:[ \t]+.*\n)*)", re.MULTILINE)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    return report_run(tmp_path_factory)


def copy_run(src: Path, dst: Path) -> Path:
    """A copy of a finished run (files, mtimes and Snakemake's metadata) to edit without touching the original."""
    shutil.copytree(src, dst, symlinks=True)
    return dst


def edit_config(workdir: Path, section: str, key: str, value) -> None:
    """Set config[section][key] = value in the working directory's config.yaml."""
    path = workdir / "config.yaml"
    cfg = yaml.safe_load(path.read_text())
    cfg.setdefault(section, {})[key] = value
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))


def planned_jobs(workdir: Path, default_target: bool = False) -> list[tuple[str, list[str]]]:
    """(rule, outputs) of every job a dry run would execute, from Snakemake's own dry-run listing."""
    proc = run_snakemake(workdir, "--dry-run") if default_target else snakemake_on_targets(workdir, "--dry-run")
    text = proc.stdout + "\n" + proc.stderr
    jobs = []
    for rule, body in JOB_RE.findall(text):
        if rule == "all":
            continue
        out = re.search(r"^\s+output: (.*)$", body, re.MULTILINE)
        jobs.append((rule, out.group(1).split(", ") if out else []))
    if not jobs:
        assert "Nothing to be done" in text, f"could not read the dry run:\n{text[-3000:]}"
    return jobs


def listed_params_changes(workdir: Path) -> set[str]:
    """The files `snakemake --list-changes params` prints."""
    proc = snakemake_on_targets(workdir, "--list-changes", "params")
    return {line.strip() for line in proc.stdout.splitlines() if line.strip().startswith("results/")}


def params_changes(workdir: Path, edit) -> set[str]:
    """Output files whose params an edit of the config changes, from `snakemake --list-changes params` before and after.

    Snakemake 9.x also prints the last output of every job whose params did not change (ParamsChange.__or__ of two
    empty changes keeps the second one's file), so what it prints before the edit is taken away.
    """
    before = listed_params_changes(workdir)
    edit()
    return listed_params_changes(workdir) - before


def test_finished_run_needs_nothing(run_dir, tmp_path):
    work = copy_run(run_dir, tmp_path / "copy")
    assert planned_jobs(work) == []
    # an edit that sets a setting to the value it already has changes nothing
    assert params_changes(work, lambda: edit_config(work, "figures", "dpi", 100)) == set()
    assert planned_jobs(work) == []


def test_figure_setting_reruns_only_figure_rules(run_dir, tmp_path):
    work = copy_run(run_dir, tmp_path / "copy")
    changed = params_changes(work, lambda: edit_config(work, "figures", "dpi", 72))
    jobs = planned_jobs(work)
    rules = {r for r, _ in jobs}
    assert FIGURE_RULES <= rules, f"figure rules missing from the rerun: {FIGURE_RULES - rules}"
    assert not rules & UPSTREAM_RULES and not rules & TABLE_RULES, f"a figure setting reruns {sorted(rules)}"
    for rule, outputs in jobs:
        assert any(f"{RUN}/figures/" in o for o in outputs), f"{rule} reruns but makes no figure: {outputs}"
    assert changed and all(c.startswith(f"{RUN}/figures/") for c in changed), changed
    assert {f"{RUN}/figures/{f}_{s}.png" for f in ("architecture", "error_density", "scatter", "epochs")
            for s in ("geo_te", "gtex_te")} <= set(changed)


def test_table_setting_reruns_only_table_rules(run_dir, tmp_path):
    work = copy_run(run_dir, tmp_path / "copy")
    changed = params_changes(work, lambda: edit_config(work, "tables", "decimals", 2))
    jobs = planned_jobs(work)
    assert {r for r, _ in jobs} == TABLE_RULES
    assert len(jobs) == 2 + 4 + 1 + 1 + 1  # Tables 1/2, four supplementary tables, improvement, Pearson, well inferred
    assert f"{RUN}/tables/summary_geo_te.html" in changed
    assert changed and all(c.startswith(f"{RUN}/tables/") for c in changed), changed


def test_well_inferred_rule_reruns_only_its_table_and_figure(run_dir, tmp_path):
    work = copy_run(run_dir, tmp_path / "copy")
    changed = params_changes(work, lambda: edit_config(work, "inference", "well_inferred", {"metric": "gtex_r",
                                                                                            "threshold": 0.3}))
    assert {r for r, _ in planned_jobs(work)} == {"make_well_inferred_table", "plot_well_inferred"}
    assert {f"{RUN}/tables/well_inferred.tsv", f"{RUN}/figures/well_inferred.png"} <= changed


def test_model_setting_reruns_training(run_dir, tmp_path):
    work = copy_run(run_dir, tmp_path / "copy")
    cfg = yaml.safe_load((work / "config.yaml").read_text())
    changed = params_changes(work, lambda: edit_config(work, "dgex", "epochs", cfg["dgex"]["epochs"] + 1))
    rules = {r for r, _ in planned_jobs(work)}
    assert {"train_dgex", "join_dgex_predictions", "evaluate_predictions"} <= rules
    assert FIGURE_RULES | TABLE_RULES <= rules
    # preprocessing and the baselines are not touched by a D-GEX setting
    assert not rules & {"generate_demo_data", "build_gene_matrix", "deduplicate_geo", "quantile_normalize", "standardize",
                        "write_split", "fit_linear_regression"}
    assert any(c.startswith(f"{RUN}/models/dgex/") for c in changed), changed
    assert not any(c.startswith((f"{RUN}/figures/", f"{RUN}/tables/")) for c in changed)  # they rerun for new inputs


def test_figure_edit_regenerates_figures_and_reverting_restores_the_bytes(run_dir, tmp_path):
    work = copy_run(run_dir, tmp_path / "copy")
    figs = work / RUN / "figures"
    before = {p.name: p.read_bytes() for p in figs.glob("*") if p.suffix in (".png", ".svg")}
    mtimes = {p: p.stat().st_mtime_ns for p in (work / RUN).rglob("*") if p.is_file() and "/figures/" not in str(p)
              and "/logs/" not in str(p) and "/benchmarks/" not in str(p)}
    edit_config(work, "figures", "colormap", "plasma")
    proc = snakemake_on_targets(work)
    ran = set(re.findall(r"^(?:local)?rule (\w+):", proc.stdout + proc.stderr, re.MULTILINE)) - {"all"}
    assert ran == {"plot_error_vs_architecture", "plot_error_per_epoch"}
    for name in ("architecture_geo_te.png", "epochs_gtex_te.svg"):
        assert (figs / name).read_bytes() != before[name], f"{name} did not change with the colormap"
    assert (figs / "scatter_geo_te.png").read_bytes() == before["scatter_geo_te.png"]
    touched = [str(p) for p, t in mtimes.items() if p.stat().st_mtime_ns != t]
    assert not touched, f"a figure edit rewrote {touched}"
    # back to the original setting: the same bytes as the first run (no dates, fixed SVG ids)
    edit_config(work, "figures", "colormap", "viridis")
    run_snakemake(work, f"{RUN}/figures/architecture_geo_te.png", f"{RUN}/figures/epochs_gtex_te.png")
    for name in ("architecture_geo_te.png", "architecture_geo_te.svg", "epochs_gtex_te.png", "epochs_gtex_te.svg"):
        assert (figs / name).read_bytes() == before[name], f"{name} differs from the first run's"


def test_geo_only_run_plans_geo_tables_and_figures(tmp_path):
    write_config(tmp_path, grid_config() | {"data": {"rnaseq": False}})
    outputs = {o for _, outs in planned_jobs(tmp_path, default_target=True) for o in outs}
    made = {o for o in outputs if o.startswith((f"{RUN}/tables/", f"{RUN}/figures/"))}
    assert {f"{RUN}/tables/summary_geo_te.html", f"{RUN}/tables/dropout_geo_va.html", f"{RUN}/tables/improvement.html",
            f"{RUN}/figures/epochs_geo_te.png", f"{RUN}/figures/scatter_geo_te.svg"} <= made
    assert not [o for o in made if "gtex" in o or "g1000" in o]


def test_growing_or_shrinking_the_grid_reruns_only_its_own_jobs(run_dir, tmp_path):
    """A new width trains only the new networks; a removed one reruns only the grid's tables and figures; run options nothing."""
    work = copy_run(run_dir, tmp_path / "copy")
    per_arch = {"train_dgex", "join_dgex_predictions", "evaluate_predictions"}

    def run_options():
        for key, value in (("gpus", 2), ("gpu_pool_dir", str(tmp_path / "pool")), ("distribute", True),
                           ("memory_limit_gb", 64)):
            edit_config(work, "dgex", key, value)

    assert params_changes(work, run_options) == set() and planned_jobs(work) == []

    changed = params_changes(work, lambda: edit_config(work, "dgex", "units", [8, 16, 24]))
    assert changed == set(), f"adding a width changes the params of finished jobs: {sorted(changed)}"
    jobs = planned_jobs(work)
    rules = {r for r, _ in jobs}
    assert per_arch <= rules and rules <= per_arch | TABLE_RULES | FIGURE_RULES, sorted(rules)
    trained = {o.split("/")[4] for r, outs in jobs if r == "train_dgex" for o in outs}  # results/tiny/models/dgex/<arch>
    assert trained == {f"h{h}x24_d{d}" for h in (1, 2) for d in ("00", "10")}, trained
    for rule, outputs in jobs:
        if rule in per_arch:
            assert all("x24_d" in o for o in outputs), f"{rule} reruns an unchanged architecture: {outputs}"

    edit_config(work, "dgex", "units", [8])  # two widths fewer: the remaining networks stay as they are
    rules = {r for r, _ in planned_jobs(work)}
    assert rules and rules <= TABLE_RULES | FIGURE_RULES, sorted(rules)
