"""The embedded demo dataset: seeded, in the real formats, with duplicates and nonlinear targets."""
import re

import numpy as np

from dgex.baselines import fit_ols
from dgex.demo import make_demo, make_genome, sample_genes

PARAMS = {"seed": 5, "n_landmarks": 20, "n_targets": 50, "n_shared_ensembl": 3, "n_extra_probes": 15, "n_extra_genes": 8,
          "n_factors": 4, "n_geo": 200, "duplicate_fraction": 0.1, "n_gtex": 30, "n_g1000": 20}


def test_demo_is_deterministic_and_seeded():
    a, b = make_demo(PARAMS), make_demo(PARAMS)
    np.testing.assert_array_equal(a["geo"].values, b["geo"].values)
    np.testing.assert_array_equal(a["gtex"].values, b["gtex"].values)
    assert a["geo"].cids == b["geo"].cids
    c = make_demo(PARAMS | {"seed": 6})
    assert not np.array_equal(a["geo"].values, c["geo"].values)


def test_demo_formats_match_the_real_sources():
    d = make_demo(PARAMS)
    geo, gtex, g1000 = d["geo"], d["gtex"], d["g1000"]
    assert geo.values.shape == (220, 20 + sum(len(p) for p in d["map_tg"].probes) + 15)
    assert geo.values.min() >= 4.0 and geo.values.max() <= 15.0
    assert all(re.fullmatch(r"\d+(_s|_x)?_at", p) for p in geo.rids)
    assert all(re.fullmatch(r"GSM\d+", c) for c in geo.cids)
    assert all(re.fullmatch(r"ENSG\d{11}\.\d+", r) for r in gtex.rids + g1000.rids)
    assert (gtex.values >= 0).all() and (gtex.values == 0).any() is not None
    lm, tg = d["map_lm"], d["map_tg"]
    assert len(set(lm.ensembl) & set(tg.ensembl)) == 3  # targets sharing a landmark's Ensembl id, other probes
    assert max(len(p) for p in tg.probes) > 1  # multi-probe targets
    probes = set(geo.rids)
    assert all(p in probes for ps in lm.probes + tg.probes for p in ps)


def test_demo_has_near_duplicates():
    d = make_demo(PARAMS)
    X = d["geo"].values.astype(np.float64)
    sq = (X * X).sum(1)
    D2 = sq[:, None] + sq[None, :] - 2 * X @ X.T
    np.fill_diagonal(D2, np.inf)
    close_pairs = int((D2 < 1.0).sum() // 2)
    assert close_pairs >= d["n_duplicates"] * 0.9


def test_targets_depend_nonlinearly_on_landmarks():
    """A linear fit leaves clearly more error than the noise: there is something for D-GEX to learn."""
    rng = np.random.default_rng(0)
    g = make_genome(rng, 30, 40, 0, 0, 0, 5)
    _, L, T = sample_genes(g, rng, 4000, noise_t=0.0)
    Xs = ((L - L.mean(0)) / L.std(0)).astype(np.float32)
    Ys = ((T - T.mean(0)) / T.std(0)).astype(np.float32)
    m = fit_ols(Xs[:3000], Ys[:3000])
    resid = np.abs(m.predict(Xs[3000:]) - Ys[3000:]).mean()
    assert resid > 0.15
