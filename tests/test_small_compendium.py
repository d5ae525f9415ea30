"""A small real compendium (240 GPL96 profiles: 192 GEO-tr < 943 landmarks) runs to the end; impossible settings stop first."""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from helpers import REPO, deep_update, run_snakemake, shared_file

GPL96 = ("gpl96", "gpl96_3cohorts_n240x22283.gctx")


def gpl96_config(workdir: Path, extra: dict | None = None) -> Path:
    """The repository's config.yaml changed only as a user of GPL96 would: compendium, GEO-only, the maps' mirror (+ extra)."""
    gctx, maps = shared_file(*GPL96), shared_file("dgex", "map_lm.txt").parent
    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    cfg = deep_update(cfg, {"run_name": "gpl96", "data": {"source": "download", "rnaseq": False, "compendium": str(gctx),
                                                          "download": {"dir": "dl", "mirror": str(maps)}}})
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(deep_update(cfg, extra or {}), sort_keys=False))
    return path


# --------------------------------------------------------------------------- checks of the data's size
def test_split_sizes_name_the_setting():
    from dgex.splits import split_sizes

    assert split_sizes(240, {"geo_va": 0.1, "geo_te": 0.1}) == (192, 24, 24)
    with pytest.raises(ValueError, match=r"splits.geo_va=0.01: .* 40 profiles, so GEO-va would be empty .*at least 0.025"):
        split_sizes(40, {"geo_va": 0.01, "geo_te": 0.1})
    with pytest.raises(ValueError, match=r"splits.geo_te=0.1: .*GEO-te would be empty"):
        split_sizes(4, {"geo_va": 0.4, "geo_te": 0.1})
    with pytest.raises(ValueError, match=r"leave 1 of the 3 profiles .* for GEO-tr; training needs at least 2"):
        split_sizes(3, {"geo_va": 0.3, "geo_te": 0.3})


def test_more_clusters_than_profiles_names_the_setting():
    from dgex.dedup import check_n_clusters

    check_n_clusters(99, 100)
    with pytest.raises(ValueError, match=r"dedup.n_clusters=100 is not below the 100 profiles .*dedup.method: exact"):
        check_n_clusters(100, 100)


def test_tables_mark_a_min_norm_lr_and_say_why(tmp_path):
    from dgex.selection import mark_solutions

    rec = {"method": "lr", "min_norm": True, "reason": "192 training profiles <= 943 landmarks (underdetermined)"}
    (tmp_path / "solution.json").write_text(json.dumps(rec))
    df = pd.DataFrame({"method": ["lr", "knn"], "label": ["LR", "KNN-GE"], "baseline": ["lr", "knn"],
                       "baseline_label": ["LR", "KNN-GE"]})
    marked, notes = mark_solutions(df, [str(tmp_path / "solution.json")])
    assert marked["label"].tolist() == marked["baseline_label"].tolist() == ["LR (min-norm)", "KNN-GE"]
    assert notes == ["LR (min-norm): 192 training profiles <= 943 landmarks (underdetermined)."]
    (tmp_path / "solution.json").write_text(json.dumps(rec | {"min_norm": False}))
    assert mark_solutions(df, [str(tmp_path / "solution.json")])[0].equals(df)


@pytest.mark.slow
def test_impossible_settings_stop_before_the_first_job(tmp_path):
    """dedup.n_clusters >= profiles, or a split left empty: the run stops at DAG time naming the setting; nothing is written."""
    for extra, message in (({"dedup": {"n_clusters": 240}}, "dedup.n_clusters=240 is not below the 240 profiles of"),
                           ({"splits": {"geo_va": 0.001}}, "splits.geo_va=0.001: ")):
        work = tmp_path / next(iter(extra))
        gpl96_config(work, extra)
        proc = run_snakemake(work, check=False)
        assert proc.returncode != 0 and message in proc.stderr + proc.stdout
        assert "gpl96_3cohorts_n240x22283.gctx (before deduplication)" in proc.stderr + proc.stdout
        assert not (work / "results").exists() and not (work / "dl").exists()


# --------------------------------------------------------------------------- the whole run
@pytest.mark.slow
def test_gpl96_geo_only_run_completes_with_min_norm_lr_and_na_adjusted_r2(tmp_path):
    """192 GEO-tr profiles < 943 landmarks: LR is the minimum-norm fit, marked in the tables; adjusted R^2 on landmarks is n/a.

    The user's configuration, with a tiny D-GEX grid, few epochs and a short LR-L1 grid so that the test is affordable.
    """
    work = tmp_path / "work"
    # interpretation.architectures: [] (the whole grid): config.yaml names architectures of the demo grid, not of this one
    gpl96_config(work, {"dgex": {"units": [16], "epochs": 3}, "baselines": {"lr_l1_lambdas": [1.0]},
                        "interpretation": {"architectures": []}})
    started = time.time()
    run_snakemake(work)
    R = work / "results" / "gpl96"
    print(f"GPL96 run: {time.time() - started:.0f} s")
    sol = json.loads((R / "models/lr/solution.json").read_text())
    assert sol["min_norm"] and (sol["n_train"], sol["n_landmarks"], sol["rank"]) == (192, 943, 191)
    assert "192 training profiles <= 943 landmarks (underdetermined)" in sol["reason"]
    assert "minimum-norm solution" in (R / "logs/fit_linear_regression.log").read_text()
    lr_te = pd.read_csv(R / "evaluation/lr/geo_te.tsv", sep="\t")
    assert len(lr_te) == 9520 and np.isfinite(lr_te["mae"]).all()
    for table in ("summary_geo_te", "dropout_geo_te", "improvement", "pearson"):
        md = (R / f"tables/{table}.md").read_text()
        assert "LR (min-norm)" in md and "192 training profiles <= 943 landmarks" in md, table
    summary = pd.read_csv(R / "tables/summary_geo_te.tsv", sep="\t")
    assert summary.loc[summary["method"] == "lr", "label"].tolist() == ["LR (min-norm)"]
    assert summary.loc[summary["method"] == "knn", "label"].tolist() == ["KNN-GE"]

    fits_path = R / "interpretation/h1x16_d10/linear_fits.tsv"
    fits = pd.read_csv(fits_path, sep="\t")
    assert len(fits) == 9520 and fits["adj_r2_landmarks"].isna().all() and np.isfinite(fits["adj_r2_hidden"]).all()
    assert fits_path.read_text().splitlines()[1].split("\t")[3] == "n/a"
    reason = "adjusted R^2 on landmarks n/a: 192 profiles <= 191 landmarks (rank) + 1"
    assert fits["note"].str.startswith(reason).all()
    info = json.loads((R / "interpretation/h1x16_d10/linear_fits.json").read_text())
    assert info["share_hidden_better"] is None and info["targets_compared"] == 0 and info["median_adj_r2_landmarks"] is None
    assert info["not_applicable"][0].startswith(reason)
    assert b"n/a" in (R / "figures/linear_fits_h1x16_d10.svg").read_bytes()
