"""Figures 1-5: what each draws, labelled axes, the density estimate, and byte-identical files on a rerun."""
from __future__ import annotations

import struct
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from helpers import run_snakemake
from report_run import FIGURES, TARGETS, report_run
from scipy.stats import gaussian_kde as scipy_kde

from dgex.figures import (
    Reference,
    architecture_figure,
    baseline_references,
    density_figure,
    epoch_figure,
    gaussian_kde,
    method_color,
    save_figure,
    scatter_figure,
    well_inferred_figure,
)
from dgex.selection import load_per_gene, overall


def png_size(path: Path) -> tuple[int, int]:
    """Width and height of a PNG from its IHDR chunk."""
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


def dgex_grid() -> pd.DataFrame:
    """Overall errors of a 2 layers x 3 units x 2 dropout grid."""
    rows = []
    for layers in (1, 2):
        for units in (300, 3000, 9000):
            for d in (0, 25):
                rows.append({"method": f"dgex_h{layers}x{units}_d{d:02d}", "layers": layers, "units": units,
                             "dropout_pct": d, "mae": 0.4 - 0.01 * layers - units / 1e6 + d / 1e3})
    return pd.DataFrame(rows)


def test_method_colors_follow_config():
    assert method_color("dgex_h1x8_d10", {"dgex": "#000001"}) == "#000001"
    assert method_color("knn", {}) == "#d68910"
    assert method_color("lr", {"lr": "red"}) == "red"
    assert method_color("some_new_method", {}) == "#566573"


def test_kde_matches_scipy_and_integrates_to_one():
    v = np.random.default_rng(1).gamma(4.0, 0.1, size=5000)
    grid = np.linspace(0, 2, 801)
    ours = gaussian_kde(v, grid)
    assert np.allclose(ours, scipy_kde(v)(grid), rtol=1e-9, atol=1e-12)
    assert np.trapezoid(ours, grid) == pytest.approx(1.0, abs=1e-3)  # np.trapz is gone in numpy 2


def test_architecture_figure_panels_lines_and_labels():
    d = dgex_grid()
    refs = [Reference("LR", 0.45, "#2471a3")]
    fig = architecture_figure(d, refs, "Fig. 1", "viridis", selected="dgex_h2x9000_d00", ylabel="GEO-te overall error")
    axes = fig.get_axes()
    assert [a.get_title() for a in axes] == ["D-GEX-0% (dropout 0%)", "D-GEX-25% (dropout 25%)"]
    assert "MAE" in axes[0].get_ylabel() and axes[0].get_xlabel() == "hidden units per layer"
    assert [t.get_text() for t in axes[0].get_xticklabels()] == ["300", "3,000", "9,000"]
    labels = [line.get_label() for line in axes[0].get_lines()]
    assert labels[:2] == ["1 hidden layer", "2 hidden layers"] and "selected on validation" in labels
    assert any(lab.startswith("LR (0.4500)") for lab in labels)
    # the 2-layer line of the first panel carries that dropout's errors in units order
    two = axes[0].get_lines()[1]
    expect = d[(d["layers"] == 2) & (d["dropout_pct"] == 0)].sort_values("units")["mae"].to_numpy()
    assert np.allclose(two.get_ydata(), expect)
    # the selected point is circled only in its own dropout's panel
    assert "selected on validation" not in [line.get_label() for line in axes[1].get_lines()]
    plt.close(fig)


def test_scatter_one_panel_per_baseline_with_share():
    rng = np.random.default_rng(0)
    x = rng.random(200)
    y1, y2 = x + 0.1, x - 0.1
    fig = scatter_figure(x, "D-GEX-10% 1x8", [("LR", y1, "b"), ("KNN-GE", y2, "g")], "Fig. 3", 4)
    axes = fig.get_axes()
    assert [a.get_title() for a in axes] == ["D-GEX vs LR", "D-GEX vs KNN-GE"]
    assert axes[1].get_ylabel().startswith("KNN-GE: per-gene MAE")
    texts = [t.get_text() for a in axes for t in a.texts]
    assert "D-GEX lower on 100.00%" in texts[0] and "D-GEX lower on 0.00%" in texts[1]
    plt.close(fig)
    empty = scatter_figure(x, "D-GEX", [], "no baselines", 4)
    assert "no baseline in this run" in [t.get_text() for t in empty.get_axes()[0].texts]
    plt.close(empty)


def test_well_inferred_figure_one_bar_per_method():
    counts = pd.DataFrame({"method": ["lr", "knn", "dgex_h1x8_d10"], "label": ["LR", "KNN-GE", "D-GEX-10% 1x8"],
                           "n_targets": [600, 600, 600], "n_well_inferred": [300, 120, 450], "share_pct": [50.0, 20.0, 75.0]})
    fig = well_inferred_figure(counts, "dgex_test_r >= 0.5: Pearson r on GEO-te", {"lr": "#0000ff"})
    ax = fig.get_axes()[0]
    bars = sorted(ax.patches, key=lambda b: -b.get_y())  # top to bottom: the table's order
    assert [round(b.get_width()) for b in bars] == [50, 20, 75]
    assert bars[0].get_facecolor()[:3] == (0.0, 0.0, 1.0)  # figures.colors
    assert [t.get_text() for t in ax.get_yticklabels()] == ["LR", "KNN-GE", "D-GEX-10% 1x8"]
    assert "450 of 600" in [t.get_text() for t in ax.texts] and "dgex_test_r >= 0.5" in ax.get_title()
    plt.close(fig)


def test_density_and_epoch_figures():
    rng = np.random.default_rng(2)
    fig = density_figure([("LR", rng.random(300) + 0.3, "b"), ("D-GEX", rng.random(300), "r")], "Fig. 2")
    ax = fig.get_axes()[0]
    assert ax.get_ylabel() == "density of target genes" and "per-gene MAE" in ax.get_xlabel()
    assert [line.get_label().split(" (")[0] for line in ax.get_lines()] == ["LR", "D-GEX"]
    plt.close(fig)
    curves = [("D-GEX-0% 1x8", pd.DataFrame({"epoch": [1, 2, 3], "mae": [0.5, 0.4, 0.45]})),
              ("D-GEX-10% 1x8", pd.DataFrame({"epoch": [1, 2, 3], "mae": [0.6, 0.5, 0.4]}))]
    fig = epoch_figure(curves, [Reference("LR", 0.47, "b")], "Fig. 5", "viridis", "GTEx-te overall error")
    ax = fig.get_axes()[0]
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels == ["D-GEX-0% 1x8 (min 0.4000, epoch 2)", "D-GEX-10% 1x8 (min 0.4000, epoch 3)", "LR (0.4700)"]
    assert ax.get_xlabel() == "training epoch" and "MAE" in ax.get_ylabel()
    plt.close(fig)


def test_baseline_references_only_for_methods_of_the_run(tmp_path):
    for m, v in (("lr", 0.5), ("dgex_h1x8_d10", 0.4)):
        p = tmp_path / "evaluation" / m / "geo_te.tsv"
        p.parent.mkdir(parents=True)
        pd.DataFrame({"gene": ["a", "b"], "mae": [v, v], "pearson": [0.5, 0.5]}).to_csv(p, sep="\t", index=False)
    ov = overall(load_per_gene(sorted(str(p) for p in tmp_path.glob("evaluation/*/geo_te.tsv"))))
    refs = baseline_references(ov, ["knn", "lr"], {"lr": "k"})
    assert refs == [Reference("LR", 0.5, "k")]


def test_saved_figures_are_byte_identical_and_follow_dpi(tmp_path):
    rng = np.random.default_rng(3)
    x = rng.random(500)

    def draw(name: str, dpi: int) -> tuple[Path, Path]:
        fig = scatter_figure(x, "D-GEX", [("LR", x + 0.01, "b")], "t", 4)
        png, svg = tmp_path / f"{name}.png", tmp_path / f"{name}.svg"
        save_figure(fig, png, svg, dpi)
        return png, svg

    a, b = draw("a", 100), draw("b", 100)
    assert a[0].read_bytes() == b[0].read_bytes()
    assert a[1].read_bytes() == b[1].read_bytes()
    svg = a[1].read_text()
    assert "<dc:date>" not in svg and "per-gene MAE" in svg
    c = draw("c", 200)
    assert png_size(c[0]) == tuple(2 * n for n in png_size(a[0]))
    assert not list(tmp_path.glob(".tmp-*"))


# --------------------------------------------------------------------------- the workflow's figures and report
@pytest.fixture(scope="module")
def grid_run(tmp_path_factory) -> Path:
    return report_run(tmp_path_factory)


@pytest.mark.slow
def test_workflow_draws_every_figure(grid_run):
    import xml.etree.ElementTree as ET

    res = grid_run / "results" / "tiny"
    for split, label in (("geo_te", "GEO-te"), ("gtex_te", "GTEx-te")):
        for fig in FIGURES:
            png, svg = res / "figures" / f"{fig}_{split}.png", res / "figures" / f"{fig}_{split}.svg"
            w, h = png_size(png)
            assert 550 <= w <= 1000 and 380 <= h <= 500, (png, w, h)  # figures.dpi 100
            text = svg.read_text()
            ET.fromstring(text)  # well-formed
            assert "MAE" in text and label in text, f"{svg} lacks its axis unit or split name"
        # Fig. 1 has one panel per dropout rate of the grid
        assert (res / "figures" / f"architecture_{split}.svg").read_text().count("(dropout ") == 2
    log = (res / "logs" / "plot_error_per_epoch" / "gtex_te.log").read_text()
    assert "curves of ['h" in log and "_d00'" in log and "_d10'" in log


@pytest.mark.slow
def test_report_holds_every_table_and_figure_with_captions(grid_run, tmp_path):
    report = tmp_path / "report.html"
    run_snakemake(grid_run, "--report", str(report), *TARGETS)
    html = report.read_text()
    for split in ("geo_te", "gtex_te"):
        for fig in FIGURES:
            assert f"{fig}_{split}.png" in html
        assert f"summary_{split}.html" in html
    for split in ("geo_va", "g1000_va"):
        assert f"dropout_{split}.html" in html
    for name in ("improvement.html", "pearson.html", "well_inferred.html", "well_inferred.png",
                 "Supplementary tables", "GTEx test (gtex_te)",
                 "1000G validation (g1000_va)"):
        assert name in html, name
    for caption in ("Table 1: overall errors on test split geo_te", "Table 2: overall errors on test split gtex_te",
                    "Fig. 1: overall error of D-GEX by architecture", "Fig. 2: density of per-gene errors",
                    "Fig. 3: per-gene errors on test split geo_te", "Fig. 4: per-gene errors on test split gtex_te",
                    "Fig. 5: overall error per training epoch", "Relative improvement of D-GEX over every baseline",
                    "Per-gene Pearson correlation next to per-gene MAE", "Target genes inferred well, per method",
                    "Share of target genes inferred well, per method"):
        assert caption in html, caption
    # the captions say which config made the result
    assert "Made by run <tt" in html or "Made by run <code" in html
    assert "hidden layers [1, 2] x units [8, 16] x dropout [0.0, 0.1]" in html
