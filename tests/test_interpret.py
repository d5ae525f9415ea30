"""Interpreting trained networks (paper 3.3): major weights and hubs, adjusted R^2 on hidden activations vs landmarks."""
import json
import re
import shutil

import numpy as np
import pandas as pd
import pytest
import yaml

from helpers import run_snakemake

from dgex.architecture import Architecture
from dgex.interpret import (LinearFit, adjusted_r2_not_applicable, hidden_units, linear_fit_notes, linear_fits, major_mask,
                            major_weight_summary, major_weights, plot_linear_fits, plot_major_weights)
from dgex.network import build_model


def planted_network(seed=0):
    """A 1-hidden-layer D-GEX (40 landmarks, 200 hidden units, 60 targets) with small random weights and planted big ones."""
    rng = np.random.default_rng(seed)
    model = build_model(40, 60, Architecture(1, 200, 0.0), seed=seed)
    W1 = rng.normal(0, 0.05, (40, 200))
    W2 = rng.normal(0, 0.05, (200, 60))
    W1[3, 17], W1[8, 99], W1[30, 5] = 2.0, -2.0, 1.5  # one per input unit, far beyond 4 SD of its row
    hub = 42
    W2[hub, :25] = 1.5  # a hub: big positive weights to 25 targets (each far beyond 5 SD of its column)
    W2[hub, 25] = -1.5
    W2[7, 40], W2[9, 41] = 1.5, -1.5
    model.get_layer("h1").set_weights([W1.astype(np.float32), np.zeros(200, np.float32)])
    model.get_layer("targets").set_weights([W2.astype(np.float32), np.zeros(60, np.float32)])
    return model, W1, W2, hub


def test_major_mask_is_per_unit_deviation():
    rng = np.random.default_rng(1)
    W = rng.normal(0, 1, (30, 50))
    mask, z = major_mask(W, 2.0, axis=1)
    for i in range(30):
        row = W[i]
        np.testing.assert_allclose(z[i], (row - row.mean()) / row.std(), rtol=1e-12)
        assert (mask[i] == (np.abs(row - row.mean()) > 2.0 * row.std())).all()
    mask0, _ = major_mask(W, 2.0, axis=0)
    assert (mask0 == major_mask(W.T, 2.0, axis=1)[0].T).all()


def test_planted_major_weights_and_hub_are_found(tmp_path):
    model, W1, W2, hub = planted_network()
    edges, n_hidden = major_weights(model, input_sd=4, output_sd=5)
    assert n_hidden == 200
    inc = edges[edges["layer"] == "input_hidden"]
    out = edges[edges["layer"] == "hidden_output"]
    assert {(3, 17), (8, 99), (30, 5)} <= set(zip(inc["source"], inc["target"]))
    planted_out = {(hub, k) for k in range(26)} | {(7, 40), (9, 41)}
    assert set(zip(out["source"], out["target"])) == planted_out
    assert np.allclose(out.set_index(["source", "target"]).loc[(7, 40), "weight"], 1.5)
    units = hidden_units(edges, n_hidden, hub_sd=3)
    assert units.loc[units["hub"], "unit"].tolist() == [hub]
    row = units.set_index("unit").loc[hub]
    assert (row["out_degree"], row["out_positive"], row["out_negative"]) == (26, 25, 1)
    assert row["sign_purity"] == pytest.approx(25 / 26)
    s = major_weight_summary(edges, units)
    assert s["hub_units"] == 1 and s["hub_share_of_major_output"] == pytest.approx(26 / 28)
    assert s["units_with_major_output"] == 3 and s["major_hidden_output"] == 28
    assert s["units_with_any_major"] == len(set(inc["target"]) | {hub, 7, 9})
    plot_major_weights(edges, units, tmp_path / "g.png", tmp_path / "g.svg", "planted", [f"L{i}" for i in range(40)])
    assert (tmp_path / "g.png").read_bytes()[:4] == b"\x89PNG" and b"<svg" in (tmp_path / "g.svg").read_bytes()[:2000]


def test_major_weights_need_one_hidden_layer():
    with pytest.raises(ValueError, match="one hidden layer, this network has 2"):
        major_weights(build_model(10, 5, Architecture(2, 8, 0.1), seed=0))


def test_linear_fit_matches_least_squares_with_intercept():
    rng = np.random.default_rng(2)
    n, p, t = 700, 15, 6
    A = rng.normal(3.0, 2.0, (n, p))
    Y = A @ rng.normal(size=(p, t)) + rng.normal(0, 3.0, (n, t)) + 50.0
    fit = LinearFit()
    for s in range(0, n, 97):  # uneven blocks
        fit.add(A[s : s + 97].astype(np.float32), Y[s : s + 97])
    r2, adj, rank = fit.adjusted_r2()
    D = np.column_stack([np.ones(n), A.astype(np.float32).astype(np.float64)])
    B = np.linalg.lstsq(D, Y, rcond=None)[0]
    sse = ((Y - D @ B) ** 2).sum(axis=0)
    sst = ((Y - Y.mean(axis=0)) ** 2).sum(axis=0)
    assert rank == p
    np.testing.assert_allclose(r2, 1 - sse / sst, atol=1e-9)
    np.testing.assert_allclose(adj, 1 - (sse / (n - p - 1)) / (sst / (n - 1)), atol=1e-9)
    # a duplicated predictor adds nothing: same fit, rank unchanged
    dup = LinearFit()
    dup.add(np.column_stack([A, A[:, :1]]).astype(np.float32), Y)
    r2d, adjd, rankd = dup.adjusted_r2()
    assert rankd == p
    np.testing.assert_allclose(adjd, adj, atol=1e-7)


@pytest.mark.parametrize("n, p, applicable", [(10, 15, False), (16, 15, False), (17, 15, True)])
def test_adjusted_r2_is_not_applicable_without_residual_degrees_of_freedom(n, p, applicable):
    """n <= rank + 1: the fit interpolates (R^2 = 1) and adjusted R^2 is NaN with a reason; one profile more, it is defined."""
    rng = np.random.default_rng(4)
    A, Y = rng.normal(size=(n, p)), rng.normal(size=(n, 3))
    fit = LinearFit()
    fit.add(A, Y)
    r2, adj, rank = fit.adjusted_r2()
    assert rank == min(n - 1, p)
    note = adjusted_r2_not_applicable(n, rank, "landmarks")
    if applicable:
        assert note == "" and np.isfinite(adj).all()
    else:
        assert np.isnan(adj).all() and np.allclose(r2, 1.0)
        assert note.startswith("adjusted R^2 on landmarks n/a") and f"{n} profiles <= {rank} landmarks (rank) + 1" in note


def test_hidden_layer_explains_what_the_network_outputs(tmp_path):
    """Targets that are the network's own outputs are linear in its hidden activations: adjusted R^2 1 there, less on
    landmarks."""
    from dgex.network import predict

    rng = np.random.default_rng(3)
    models = [build_model(12, 4, Architecture(1, 10, 0.0), seed=s) for s in (0, 1)]
    for m in models:
        W1, b1 = m.get_layer("h1").get_weights()
        m.get_layer("h1").set_weights([W1 * 4.0, b1 + 0.3])  # saturate tanh: clearly nonlinear in the landmarks
        W2, b2 = m.get_layer("targets").get_weights()
        m.get_layer("targets").set_weights([rng.normal(0, 1, W2.shape).astype(np.float32), b2])
    X = rng.normal(0, 1, (600, 12)).astype(np.float32)
    cols = [np.array([0, 2, 4, 6]), np.array([1, 3, 5, 7])]
    Y = np.empty((600, 8), np.float32)
    for m, c in zip(models, cols):
        Y[:, c] = predict(m, X)
    df = linear_fits(models, X, Y, cols, batch=128)
    assert df["part"].tolist() == [0, 1] * 4
    assert (df["adj_r2_hidden"] > 0.999).all()
    assert (df["adj_r2_landmarks"] < 0.99).all() and df["hidden_better"].all()
    plot_linear_fits(df, tmp_path / "f.png", None, "test")
    assert (tmp_path / "f.png").stat().st_size > 1000
    assert (df["note"] == "").all()


def test_linear_fits_with_more_predictors_than_profiles_are_not_applicable(tmp_path):
    """20 profiles, 30 landmarks, 10 hidden units: n/a on landmarks (with the reason), defined on the hidden layer."""
    rng = np.random.default_rng(5)
    models = [build_model(30, 3, Architecture(1, 10, 0.0), seed=s) for s in (0, 1)]
    X, Y = rng.normal(size=(20, 30)).astype(np.float32), rng.normal(size=(20, 6)).astype(np.float32)
    df = linear_fits(models, X, Y, [np.array([0, 1, 2]), np.array([3, 4, 5])])
    assert df["adj_r2_landmarks"].isna().all() and np.isfinite(df["adj_r2_hidden"]).all()
    assert df["hidden_better"].isna().all() and (df["rank_landmarks"] == 19).all()
    assert linear_fit_notes(df) == ["adjusted R^2 on landmarks n/a: 20 profiles <= 19 landmarks (rank) + 1, so the fit "
                                    "interpolates the profiles (R^2 = 1) with no residual degrees of freedom"]
    plot_linear_fits(df, tmp_path / "one.png", None, "test")
    few = linear_fits([build_model(30, 3, Architecture(1, 40, 0.0), seed=0)], X, Y[:, :3], [np.arange(3)])
    assert len(linear_fit_notes(few)) == 2 and few["adj_r2_hidden"].isna().all()
    plot_linear_fits(few, tmp_path / "none.png", tmp_path / "none.svg", "test")
    assert b"not applicable" in (tmp_path / "none.svg").read_bytes()


def test_workflow_interpretation_outputs(tiny_run):
    """The default target of the tiny run includes the interpretation of its 1-hidden-layer networks."""
    R = tiny_run / "results" / "tiny"
    fits = pd.read_csv(R / "interpretation" / "h1x16_d10" / "linear_fits.tsv", sep="\t")
    assert len(fits) == 60 and fits["gene"].is_unique
    assert set(fits["part"]) == {0, 1} and (fits["adj_r2_hidden"] <= 1).all() and (fits["adj_r2_landmarks"] <= 1).all()
    summary = json.loads((R / "interpretation" / "h1x16_d10" / "linear_fits.json").read_text())
    assert summary["share_hidden_better"] == pytest.approx(fits["hidden_better"].mean())
    assert summary["training_profiles"] == 240
    for part in (0, 1):
        d = R / "interpretation" / "h1x16_d10" / f"part{part}"
        edges = pd.read_csv(d / "major_weights.tsv", sep="\t")
        s = json.loads((d / "major_weights.json").read_text())
        assert list(edges.columns) == ["layer", "source", "target", "source_name", "weight", "sd"]
        assert s["major_hidden_output"] == (edges["layer"] == "hidden_output").sum() and s["hidden_units"] == 16
        assert (R / "figures" / f"major_weights_h1x16_d10_part{part}.png").exists()
    assert (R / "figures" / "linear_fits_h1x16_d10.svg").exists()


@pytest.mark.slow
def test_display_settings_redraw_without_redoing_the_analysis(tiny_run, tmp_path):
    """figures.dpi reruns only the drawings; interpretation.input_sd the major weights, never the linear fits (~4 TFLOP)."""
    work = tmp_path / "copy"
    shutil.copytree(tiny_run, work, symlinks=True)

    def planned_after(section: str, key: str, value) -> set[str]:
        cfg = yaml.safe_load((work / "config.yaml").read_text())
        cfg.setdefault(section, {})[key] = value
        (work / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
        proc = run_snakemake(work, "-n")
        return set(re.findall(r"^(?:local)?rule (\w+):", proc.stdout + proc.stderr, re.MULTILINE)) - {"all"}

    rules = planned_after("figures", "dpi", 72)
    assert not rules & {"compare_linear_fits", "find_major_weights"}, rules
    assert {"plot_linear_fits", "plot_major_weights"} <= rules, rules
    rules = planned_after("interpretation", "input_sd", 3.5)
    assert {"find_major_weights", "plot_major_weights"} <= rules and "compare_linear_fits" not in rules, rules
