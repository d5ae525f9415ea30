"""Tables 1/2, the supplementary dropout tables, improvement and Pearson tables: numbers, selection, rendering, bad input."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from report_run import all_baselines, report_run

from dgex.architecture import Architecture
from dgex.comparisons import dropout_table, improvement_table, overall_error_per_epoch, pearson_table, summary
from dgex.io import InputError
from dgex.render import to_html, to_markdown
from dgex.selection import load_per_gene, method_label, overall, select_dgex
from dgex.tables import dropout_document, improvement_document, pearson_document, summary_document, well_inferred_document
from dgex.target_reliability import WellInferredRule, per_target_reliability, well_inferred_counts

GENES = [f"G{i}" for i in range(6)]


def per_gene(mae, pearson=None, genes=GENES) -> pd.DataFrame:
    """A per-gene evaluation table."""
    mae = np.asarray(mae, dtype=np.float64)
    r = np.full(len(mae), 0.5) if pearson is None else np.asarray(pearson, dtype=np.float64)
    return pd.DataFrame({"gene": genes, "mae": mae, "pearson": r})


def write_eval(root: Path, method: str, split: str, df: pd.DataFrame) -> str:
    """Write evaluation/<method>/<split>.tsv as the workflow does; return its path."""
    p = root / "evaluation" / method / f"{split}.tsv"
    p.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(p, sep="\t", index=False)
    return str(p)


@pytest.fixture
def grid():
    """Test and validation evaluations: two baselines and a 2x2x2 D-GEX grid with known errors."""
    test = {
        "lr": per_gene([0.5, 0.6, 0.4, 0.7, 0.5, 0.3], [0.8, 0.7, 0.9, 0.6, 0.8, np.nan]),
        "knn": per_gene([0.6, 0.7, 0.5, 0.8, 0.6, 0.5]),
    }
    val = {"lr": per_gene([0.5] * 6), "knn": per_gene([0.6] * 6)}
    # validation error per architecture: the 2x16 at dropout 10% is lowest
    val_err = {"h1x8_d00": 0.48, "h1x16_d00": 0.47, "h2x8_d00": 0.46, "h2x16_d00": 0.45,
               "h1x8_d10": 0.44, "h1x16_d10": 0.43, "h2x8_d10": 0.42, "h2x16_d10": 0.41}
    for arch, v in val_err.items():
        val[f"dgex_{arch}"] = per_gene([v] * 6)
        # test errors: the 2x8 at 10% is best on test (not the one selected on validation)
        shift = -0.02 if arch == "h2x8_d10" else 0.0
        test[f"dgex_{arch}"] = per_gene(np.array([0.4, 0.5, 0.35, 0.6, 0.45, 0.31]) + v - 0.41 + shift)
    return test, val


def test_method_names():
    assert method_label("dgex_h3x9000_d25") == "D-GEX-25% 3x9000"
    assert method_label("lr_l1") == "LR-L1" and method_label("knn") == "KNN-GE" and method_label("lr") == "LR"
    assert Architecture.from_method("lr") is None and Architecture.from_method("dgex_h2x16_d00").dropout_pct == 0


def test_overall_is_mean_and_sd_over_genes(grid):
    test, _ = grid
    o = overall(test).set_index("method")
    lr = test["lr"]["mae"].to_numpy()
    assert o.loc["lr", "mae"] == pytest.approx(lr.mean())
    assert o.loc["lr", "mae_sd"] == pytest.approx(lr.std())
    # the NaN Pearson (constant gene) is left out, not propagated
    assert o.loc["lr", "pearson"] == pytest.approx(np.mean([0.8, 0.7, 0.9, 0.6, 0.8]))
    assert o.loc["dgex_h2x8_d10", ["layers", "units", "dropout_pct"]].tolist() == [2, 8, 10]


def test_summary_selects_on_validation_and_marks_best_on_test(grid):
    test, val = grid
    assert select_dgex(val) == "dgex_h2x16_d10"
    s = summary(test, val)
    # baselines plus the four layers x units at the selected dropout (10%), nothing at 0%
    assert s["method"].tolist() == ["lr", "knn", "dgex_h1x8_d10", "dgex_h1x16_d10", "dgex_h2x8_d10", "dgex_h2x16_d10"]
    assert s.loc[s["selected"], "method"].tolist() == ["dgex_h2x16_d10"]
    assert s.loc[s["best_test"], "method"].tolist() == ["dgex_h2x8_d10"]
    sel = test["dgex_h2x16_d10"]["mae"].to_numpy()
    lr = test["lr"]["mae"].to_numpy()
    row = s.set_index("method").loc["lr"]
    assert row["improvement_pct"] == pytest.approx(100 * (lr.mean() - sel.mean()) / lr.mean())
    assert row["share_genes_dgex_lower_pct"] == pytest.approx(100 * np.mean(sel < lr))
    assert 0 < row["share_genes_dgex_lower_pct"] < 100  # the last gene is a tie-free loss for D-GEX
    assert s.loc[s["method"].str.startswith("dgex"), "improvement_pct"].isna().all()


def test_summary_dropout_override_and_bad_rate(grid):
    test, val = grid
    s = summary(test, val, dropout=0.0)
    assert set(s.loc[s["method"].str.startswith("dgex"), "dropout_pct"]) == {0}
    assert s.loc[s["selected"], "method"].tolist() == ["dgex_h2x16_d00"]
    with pytest.raises(InputError, match=r"tables.dropout=0.25 .*\[0, 10\]"):
        summary(test, val, dropout=0.25)


def test_dropout_table_lists_every_architecture_and_rate(grid):
    test, _ = grid
    d = dropout_table(test)
    assert len(d) == 10
    assert d.loc[d["best_dgex"], "method"].tolist() == ["dgex_h2x8_d10"]
    md = to_markdown(dropout_document(d, "geo_te", 3))
    assert "| hidden layers x units | D-GEX-0% | D-GEX-10% |" in md
    assert "| 2x16 |" in md and "KNN-GE" in md
    best = d.set_index("method").loc["dgex_h2x8_d10"]
    assert f"**{best['mae']:.3f} ± {best['mae_sd']:.3f}**" in md


def test_improvement_and_pearson_tables(grid):
    test, val = grid
    imp = improvement_table({"geo_te": test, "gtex_te": test}, {"geo_te": val, "gtex_te": val})
    assert imp["baseline"].tolist() == ["lr", "knn", "lr", "knn"]
    assert set(imp["dgex"]) == {"dgex_h2x16_d10"}
    knn = imp[(imp["split"] == "geo_te") & (imp["baseline"] == "knn")].iloc[0]
    sel, k = test["dgex_h2x16_d10"]["mae"].to_numpy(), test["knn"]["mae"].to_numpy()
    assert knn["share_genes_dgex_lower_pct"] == pytest.approx(100 * np.mean(sel < k))
    assert knn["improvement_pct"] == pytest.approx(100 * (k.mean() - sel.mean()) / k.mean())
    md = to_markdown(improvement_document(imp, 4, 1))
    assert f"{knn['improvement_pct']:.1f}%" in md and "GTEx-te" in md
    p = pearson_table({"geo_te": test})
    assert len(p) == 10 and {"pearson", "pearson_sd", "pearson_median", "mae"} <= set(p.columns)
    html = to_html(pearson_document(p, 3))
    assert html.startswith("<!DOCTYPE html>") and "<h2>GEO-te</h2>" in html and "<strong>" in html


def test_summary_rendering_marks_and_decimals(grid):
    test, val = grid
    s = summary(test, val)
    doc = summary_document(s, "gtex_te", 3, 1)
    md, html = to_markdown(doc), to_html(doc)
    assert doc.title.startswith("Table 2") and "1000G-va" in md
    assert "D-GEX-10% 2x16 (selected)" in md
    best = s[s["best_test"]].iloc[0]
    assert f"**{best['mae']:.3f} ± {best['mae_sd']:.3f}**" in md
    assert f"<strong>{best['mae']:.3f} ± {best['mae_sd']:.3f}</strong>" in html
    assert f"{s.set_index('method').loc['lr', 'improvement_pct']:.1f}%" in md
    # an HTML-special character in a label is escaped
    s.loc[0, "label"] = "LR<b>"
    assert "LR&lt;b&gt;" in to_html(summary_document(s, "gtex_te", 3, 1))


def test_well_inferred_counts_follow_the_rule(grid):
    test, _ = grid
    gtex = {m: t.assign(pearson=t["pearson"] - 0.3) for m, t in test.items()}
    per_target = per_target_reliability({"geo_te": test, "gtex_te": gtex}, WellInferredRule())
    assert len(per_target) == 6 * len(test) and list(per_target.columns) == [
        "method", "gene", "test_mae", "test_r", "gtex_mae", "gtex_r", "well_inferred"]
    lr = per_target[per_target["method"] == "lr"]
    assert lr["well_inferred"].tolist() == [1, 1, 1, 1, 1, 0]  # r 0.8 0.7 0.9 0.6 0.8 NaN: an undefined r never passes
    counts = well_inferred_counts(per_target).set_index("method")
    assert counts.loc["lr", "n_well_inferred"] == 5 and counts.loc["lr", "share_pct"] == pytest.approx(500 / 6)
    assert counts.loc["lr", "median_test_r"] == pytest.approx(0.8) and counts.loc["lr", "median_gtex_r"] == pytest.approx(0.5)
    assert counts.loc["knn", "n_well_inferred"] == 6 and counts.loc["knn", "label"] == "KNN-GE"
    strict = well_inferred_counts(per_target_reliability({"geo_te": test, "gtex_te": gtex}, WellInferredRule("gtex_r", 0.5)))
    assert strict.set_index("method").loc["lr", "n_well_inferred"] == 3  # gtex r 0.5 0.4 0.6 0.3 0.5 NaN
    mae = per_target_reliability({"geo_te": test}, WellInferredRule("test_mae", 0.5))
    assert mae.loc[mae["method"] == "lr", "well_inferred"].tolist() == [1, 0, 1, 0, 1, 1]
    with pytest.raises(InputError, match="metric='gtex_r' needs GTEx-te evaluations"):
        per_target_reliability({"geo_te": test}, WellInferredRule("gtex_r", 0.5))
    md = to_markdown(well_inferred_document(counts.reset_index(), WellInferredRule().describe(), 3, 1))
    assert "| LR | 6 | 5 | 83.3% | 0.800 | 0.500 |" in md and "| KNN-GE | 6 | 6 | **100.0%** |" in md
    assert "Well inferred: dgex_test_r >= 0.5: Pearson r" in md


def test_load_per_gene_aligns_and_rejects_bad_files(tmp_path):
    a = write_eval(tmp_path, "lr", "geo_te", per_gene([0.1, 0.2, 0.3, 0.4, 0.5, 0.6]))
    shuffled = per_gene([0.6, 0.5, 0.4, 0.3, 0.2, 0.1], genes=GENES[::-1])
    b = write_eval(tmp_path, "dgex_h1x8_d10", "geo_te", shuffled)
    loaded = load_per_gene([a, b])
    assert list(loaded) == ["lr", "dgex_h1x8_d10"]
    # rows follow the first table's gene order
    assert loaded["dgex_h1x8_d10"]["gene"].tolist() == GENES
    assert np.allclose(loaded["dgex_h1x8_d10"]["mae"], [0.1, 0.2, 0.3, 0.4, 0.5, 0.6])

    other = write_eval(tmp_path, "knn", "geo_te", per_gene([0.1] * 6, genes=[f"X{i}" for i in range(6)]))
    with pytest.raises(InputError, match=r"knn/geo_te.tsv and .*lr/geo_te.tsv evaluate different target genes"):
        load_per_gene([a, other])
    bad = tmp_path / "evaluation" / "lr_l1" / "geo_te.tsv"
    bad.parent.mkdir(parents=True)
    bad.write_text("gene\terror\nG0\t0.1\n")
    with pytest.raises(InputError, match=r"lr_l1/geo_te.tsv: .*lacks column\(s\) \['mae', 'pearson'\]"):
        load_per_gene([str(bad)])
    nan = write_eval(tmp_path, "lr_l2", "geo_te", per_gene([0.1, np.nan, 0.3, 0.4, 0.5, 0.6]))
    with pytest.raises(InputError, match="lr_l2/geo_te.tsv: column mae has missing"):
        load_per_gene([nan])


def test_select_needs_a_dgex():
    with pytest.raises(InputError, match="no D-GEX"):
        select_dgex({"lr": per_gene([0.1] * 6)})


def test_overall_error_per_epoch_weights_parts_by_targets():
    h0 = pd.DataFrame({"epoch": [1, 2, 3], "gtex_te_mae": [0.9, 0.6, 0.5]})
    h1 = pd.DataFrame({"epoch": [1, 2, 3], "gtex_te_mae": [0.3, 0.3, 0.2]})
    out = overall_error_per_epoch({0: h0, 1: h1}, {0: 1, 1: 3}, "gtex_te")
    assert out["epoch"].tolist() == [1, 2, 3]
    assert np.allclose(out["mae"], [(0.9 + 3 * 0.3) / 4, (0.6 + 0.9) / 4, (0.5 + 0.6) / 4])
    # the weighted mean of the parts' means is the mean over all targets' absolute errors
    rng = np.random.default_rng(0)
    err = rng.random((5, 7))
    parts = {0: [0, 1], 1: [2, 3, 4, 5, 6]}
    hs = {p: pd.DataFrame({"epoch": [1], "geo_te_mae": [err[:, c].mean()]}) for p, c in parts.items()}
    got = overall_error_per_epoch(hs, {p: len(c) for p, c in parts.items()}, "geo_te")["mae"].iloc[0]
    assert math.isclose(got, err.mean(), rel_tol=1e-12)
    with pytest.raises(InputError, match="epochs"):
        overall_error_per_epoch({0: h0, 1: h1.iloc[:2]}, {0: 1, 1: 3}, "gtex_te")
    with pytest.raises(InputError, match="'geo_va_mae'"):
        overall_error_per_epoch({0: h0, 1: h1}, {0: 1, 1: 3}, "geo_va")
    with pytest.raises(InputError, match="parts"):
        overall_error_per_epoch({0: h0}, {0: 1, 1: 3}, "gtex_te")


# --------------------------------------------------------------------------- the workflow's tables
@pytest.fixture(scope="module")
def grid_run(tmp_path_factory) -> Path:
    return report_run(tmp_path_factory)


def run_evaluations(res: Path, split: str) -> dict[str, pd.DataFrame]:
    """Every method's per-gene evaluation on a split of a finished run, baselines first."""
    paths = sorted(res.glob(f"evaluation/*/{split}.tsv"), key=lambda p: (p.parent.name.startswith("dgex_"), p.parent.name))
    return load_per_gene([str(p) for p in paths])


@pytest.mark.slow
def test_workflow_tables_match_the_evaluations(grid_run):
    res = grid_run / "results" / "tiny"
    baselines = all_baselines()
    for split, val in (("geo_te", "geo_va"), ("gtex_te", "g1000_va")):
        test, validation = run_evaluations(res, split), run_evaluations(res, val)
        assert len(test) == len(baselines) + 8
        selected = select_dgex(validation)
        s = pd.read_csv(res / "tables" / f"summary_{split}.tsv", sep="\t")
        assert s.loc[s["selected"], "method"].tolist() == [selected]
        assert s.loc[~s["method"].str.startswith("dgex_"), "method"].tolist() == baselines
        pct = Architecture.from_method(selected).dropout_pct
        assert sorted(s.loc[s["method"].str.startswith("dgex_"), "method"]) == sorted(
            m for m in test if Architecture.from_method(m) and Architecture.from_method(m).dropout_pct == pct)
        ov = overall(test).set_index("method")
        assert np.allclose(s.set_index("method")["mae"], ov.loc[s["method"], "mae"], rtol=1e-6)
        assert s.loc[s["best_test"], "method"].iloc[0] == s.loc[s["mae"].idxmin(), "method"]
        md = (res / "tables" / f"summary_{split}.md").read_text()
        assert md.startswith("# Table 1" if split == "geo_te" else "# Table 2")
        assert f"{method_label(selected)} (selected)" in md
        assert "<table>" in (res / "tables" / f"summary_{split}.html").read_text()
    for split in ("geo_va", "geo_te", "g1000_va", "gtex_te"):
        d = pd.read_csv(res / "tables" / f"dropout_{split}.tsv", sep="\t")
        assert len(d) == len(baselines) + 8 and set(d["dropout_pct"].dropna()) == {0, 10}
        md = (res / "tables" / f"dropout_{split}.md").read_text()
        assert "| hidden layers x units | D-GEX-0% | D-GEX-10% |" in md and md.count("\n| 2x16 |") == 1
    imp = pd.read_csv(res / "tables" / "improvement.tsv", sep="\t")
    assert len(imp) == 2 * len(baselines) and set(imp["baseline"]) == set(baselines)
    row = imp[(imp["split"] == "gtex_te") & (imp["baseline"] == "lr")].iloc[0]
    test = run_evaluations(res, "gtex_te")
    d, lr = test[row["dgex"]]["mae"].to_numpy(), test["lr"]["mae"].to_numpy()
    assert row["share_genes_dgex_lower_pct"] == pytest.approx(100 * np.mean(d < lr))
    assert row["improvement_pct"] == pytest.approx(100 * (lr.mean() - d.mean()) / lr.mean(), rel=1e-6)
    p = pd.read_csv(res / "tables" / "pearson.tsv", sep="\t")
    assert len(p) == 2 * (len(baselines) + 8) and p["pearson"].between(-1, 1).all()


@pytest.mark.slow
def test_workflow_well_inferred_table_and_every_targets_reliability(grid_run):
    """Per method: targets with GEO-te Pearson r >= 0.5 (the default rule), and every target's fields, from the evaluations."""
    res = grid_run / "results" / "tiny"
    test, gtex = run_evaluations(res, "geo_te"), run_evaluations(res, "gtex_te")
    w = pd.read_csv(res / "tables" / "well_inferred.tsv", sep="\t").set_index("method")
    assert sorted(w.index) == sorted(test) and (w["n_targets"] == 60).all()
    for method, t in test.items():
        assert w.loc[method, "n_well_inferred"] == int((t["pearson"] >= 0.5).sum()), method
    per = pd.read_csv(res / "tables" / "reliability_per_target.tsv", sep="\t")
    assert len(per) == 60 * len(test)
    lr = per[per["method"] == "lr"].set_index("gene")
    np.testing.assert_allclose(lr.loc[gtex["lr"]["gene"], "gtex_mae"], gtex["lr"]["mae"], rtol=1e-7)
    np.testing.assert_array_equal(lr.loc[test["lr"]["gene"], "well_inferred"], (test["lr"]["pearson"] >= 0.5).astype(int))
    md = (res / "tables" / "well_inferred.md").read_text()
    assert "dgex_test_r >= 0.5: Pearson r" in md and "median Pearson r, GTEx-te" in md
