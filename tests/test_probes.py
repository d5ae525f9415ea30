"""The probe-level LINCS model (lincs_model: probes): chip landmark probes -> every other probe of the compendium, a bundle
whose output rows are the compendium's probes, and runs on the demo and on the real GPL96 compendium."""
from __future__ import annotations

import json
import time

import h5py
import numpy as np
import pandas as pd
import pytest
import yaml

from helpers import REPO, SNAKEMAKE, run_snakemake, shared_file, write_config
from dgex.architecture import Architecture
from dgex.bundle import load_bundle, write_bundle
from dgex.gctx import Gct, read_gct, read_gctx_ids, write_gct
from dgex.infer import InferenceSettings, infer_gctx
from dgex.io import InputError
from dgex.l1000 import read_chip
from dgex.matrix import load_matrix
from dgex.network import build_model, load_model, predict, save_model
from dgex.probes import probe_maps
from test_infer import parse_gctx
from test_small_compendium import gpl96_config

CHIP = ("l1000", "L1000_EPSILON.R1.chip")
GPL96 = ("gpl96", "gpl96_3cohorts_n240x22283.gctx")


def test_gpl96_has_every_l1000_landmark_probe_and_the_maps_follow_its_order():
    """All 978 landmark probes of the real chip are on GPL96 (22,283 probes, 68 AFFX controls): 21,305 target probes."""
    chip = read_chip(shared_file(*CHIP))
    probes, _ = read_gctx_ids(shared_file(*GPL96))
    lm, tg = probe_maps(chip, probes, "gpl96", symbols={"1053_at": "RFC2"})
    assert (len(lm), len(tg)) == (978, 21305) and len(probes) == 22283
    assert set(lm.ensembl) == set(chip["probe_id"]) and not set(lm.ensembl) & set(tg.ensembl)
    position = {p: i for i, p in enumerate(probes)}
    assert all(np.diff([position[p] for p in lm.ensembl]) > 0) and all(np.diff([position[p] for p in tg.ensembl]) > 0)
    assert lm.probes[lm.ensembl.index("200814_at")] == ["200814_at"] and lm.symbols[lm.ensembl.index("200814_at")] == "PSME1"
    assert tg.symbols[tg.ensembl.index("1053_at")] == "RFC2" and tg.symbols[tg.ensembl.index("117_at")] == "-666"
    assert sum(p.startswith("AFFX") for p in tg.ensembl) == 68
    with pytest.raises(InputError, match=r"gpl96: 2 of the chip's 978 L1000 landmark probes .* not in the compendium, "
                                         r"e.g. \['PSME1 \(200814_at\)'.*lincs_model: genes"):
        probe_maps(chip, [p for p in probes if p not in ("200814_at", "218597_s_at")], "gpl96")


@pytest.fixture(scope="module")
def probe_bundle(tmp_path_factory):
    """A probe-level bundle on 12 probes (4 landmarks among 8 targets, interleaved) with two untrained networks."""
    tmp = tmp_path_factory.mktemp("probe_bundle")
    probes = [f"{200000 + 7 * i}_at" for i in range(12)]
    lm_probes = [probes[i] for i in (1, 4, 5, 10)]
    chip = pd.DataFrame({"probe_id": lm_probes[::-1], "symbol": ["L4", "L3", "L2", "L1"], "entrez_id": ["4", "3", "2", "1"]})
    lm, tg = probe_maps(chip, probes, "test", symbols={probes[0]: "T0"})
    rng = np.random.default_rng(0)
    stats = pd.DataFrame({"gene": lm.ensembl + tg.ensembl, "role": ["landmark"] * 4 + ["target"] * 8,
                          "mean": rng.uniform(5, 10, 12), "std": rng.uniform(0.5, 2, 12)})
    part = np.array([0, 1] * 4)
    models = {}
    for p in (0, 1):
        models[p] = tmp / f"part{p}_trained.keras"
        save_model(build_model(4, int((part == p).sum()), Architecture(1, 8, 0.0), seed=p), models[p])
    manifest = write_bundle(tmp / "bundle", architecture="h1x8_d00", criterion="geo", models=models,
                            partition=pd.DataFrame({"gene": tg.ensembl, "part": part}), stats=stats,
                            reference=np.sort(rng.uniform(5, 10, 4)), landmark_map=lm, chip=chip, target_map=tg,
                            row_order=probes)
    return {"manifest": manifest, "probes": probes, "lm": lm_probes, "stats": stats, "models": models, "chip": chip,
            "tmp": tmp}


def test_a_probe_bundle_records_its_row_order_and_refuses_a_wrong_one(probe_bundle):
    b = load_bundle(probe_bundle["manifest"])
    assert b.rows["row_id"].tolist() == probe_bundle["probes"]
    assert b.rows.loc[b.rows["role"] == "landmark", "row_id"].tolist() == probe_bundle["lm"]
    assert b.manifest["row_order"] == "rows.tsv" and "rows.tsv" in b.manifest["files"]
    assert b.landmarks["gene"].tolist() == b.landmarks["probe_id"].tolist() == probe_bundle["lm"]
    assert b.landmarks["symbol"].tolist() == ["L1", "L2", "L3", "L4"]
    assert b.landmarks["entrez_id"].tolist() == ["1", "2", "3", "4"]
    args = dict(architecture="h1x8_d00", criterion="geo", models=probe_bundle["models"],
                partition=pd.DataFrame({"gene": b.targets["gene"], "part": b.targets["part"]}), stats=probe_bundle["stats"],
                reference=b.reference, landmark_map=probe_maps(probe_bundle["chip"], probe_bundle["probes"], "t")[0],
                chip=probe_bundle["chip"])
    for rows, message in ((probe_bundle["probes"][:-1], r"1 absent \(e.g. \['200077_at'\]\)"),
                          (probe_bundle["probes"] + ["999_at"], r"1 neither \(e.g. \['999_at'\]\)"),
                          (probe_bundle["probes"] + probe_bundle["probes"][:1], r"1 repeated")):
        with pytest.raises(InputError, match=rf"row order: must list every landmark and target once; .*{message}"):
            write_bundle(probe_bundle["tmp"] / "bad", row_order=rows, **args)


def test_probe_level_output_is_in_compendium_order_with_landmarks_and_metadata(probe_bundle, tmp_path):
    """Rows: the 12 probes in the bundle's order; landmark rows the network inputs, target rows the networks' outputs."""
    b = load_bundle(probe_bundle["manifest"])
    rng = np.random.default_rng(1)
    L = rng.uniform(5, 10, (9, 4)).astype(np.float32)
    rids = probe_bundle["lm"][::-1] + ["EXTRA_ROW"]  # another row order, and a row that is no landmark
    values = np.concatenate([L[:, ::-1], np.ones((9, 1), np.float32)], axis=1)
    meta = pd.DataFrame({"pr_gene_symbol": ["L4", "L3", "L2", "L1", "X"], "pr_is_lmark": ["Y"] * 4 + ["N"]},
                        index=pd.Index(rids))
    inp = tmp_path / "in.gctx"
    write_gct(inp, Gct(values, rids, [f"s{i}" for i in range(9)], meta))
    out = tmp_path / "out.gctx"
    rep = infer_gctx(inp, b, out, InferenceSettings(normalization="none", chunk_size=4))
    assert rep.unused_rows == 1
    g = parse_gctx(out)
    assert list(g.data_df.index) == probe_bundle["probes"] and list(g.data_df.columns) == [f"s{i}" for i in range(9)]
    np.testing.assert_allclose(g.data_df.loc[probe_bundle["lm"]].to_numpy().T, L, rtol=1e-6)
    lm_stats, t = b.landmarks, b.targets
    Z = (L - lm_stats["mean"].to_numpy(np.float32)) / lm_stats["std"].to_numpy(np.float32)
    for p, f in sorted(b.part_files().items()):
        genes = t.loc[t["part"] == p, "gene"].tolist()
        expected = predict(load_model(f), Z) * t.loc[t["part"] == p, "std"].to_numpy() + t.loc[t["part"] == p, "mean"].to_numpy()
        np.testing.assert_allclose(g.data_df.loc[genes].to_numpy().T, expected, rtol=1e-5, atol=1e-5)
    m = g.row_metadata_df
    assert m.loc[probe_bundle["lm"], "dgex_status"].eq("measured").all() and m["dgex_status"].eq("inferred").sum() == 8
    assert m["dgex_model_input"].tolist() == [int(p in probe_bundle["lm"]) for p in probe_bundle["probes"]]
    assert m.loc[probe_bundle["lm"], "dgex_symbol"].tolist() == ["L1", "L2", "L3", "L4"]
    assert m.loc[probe_bundle["probes"][0], "dgex_symbol"] == "T0" and m.loc[probe_bundle["probes"][0], "pr_gene_symbol"] == "T0"
    assert m.loc[probe_bundle["lm"], "pr_is_lmark"].eq("Y").all() and m["pr_is_lmark"].isna().sum() == 8  # -666 read as NaN
    assert m.loc[t["gene"], "dgex_part"].tolist() == t["part"].tolist() and m["dgex_probe_id"].tolist() == probe_bundle["probes"]
    with h5py.File(out, "r") as f:
        assert f.attrs["dgex_row_order"].startswith("compendium probes")
    # an absent landmark, imputed on request: its row holds the training mean and says so
    write_gct(inp, Gct(values[:, 1:4], rids[1:4], [f"s{i}" for i in range(9)]))
    rep = infer_gctx(inp, b, tmp_path / "imputed.gctx", InferenceSettings(normalization="none", missing_landmarks="mean"))
    g = parse_gctx(tmp_path / "imputed.gctx")
    assert rep.imputed_landmarks == ["L4"] and g.row_metadata_df.loc[probe_bundle["lm"][3], "dgex_status"] == "imputed"
    np.testing.assert_allclose(g.data_df.loc[probe_bundle["lm"][3]], lm_stats["mean"].iloc[3], rtol=1e-6)


def dry_run(workdir, extra: dict) -> str:
    """Snakemake's dry run of the tiny config with `extra`; its output when it fails."""
    import subprocess

    write_config(workdir, extra)
    proc = subprocess.run(SNAKEMAKE + ["-s", str(REPO / "Snakefile"), "--directory", str(workdir), "--configfile",
                                       str(workdir / "config.yaml"), "-n", "--cores", "1"], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode != 0, "the dry run should fail"
    return proc.stdout + proc.stderr


@pytest.mark.parametrize("extra, message", [
    ({"lincs_model": "probes"}, "lincs_model: probes needs data.rnaseq: false"),
    ({"lincs_model": "probes", "data": {"rnaseq": False, "source": "download"}}, "lincs_model: probes needs inference.chip"),
    ({"lincs_model": "probes", "data": {"rnaseq": False}, "inference": {"model": "rnaseq"}}, "needs inference.model: geo"),
    ({"lincs_model": "probe"}, "'probe' is not one of ['genes', 'probes']"),
])
def test_bad_probe_level_settings_stop_at_dag_time(tmp_path, extra, message):
    text = dry_run(tmp_path, extra)
    assert message in text, text[-3000:]
    assert not (tmp_path / "results").exists()


# --------------------------------------------------------------------------- whole runs
def check_probe_run(R, raw, n_landmarks: int, n_targets: int) -> pd.DataFrame:
    """Shared checks of a probe-level run: bundle rows, per-probe evaluation, demo L1000 inference in compendium order."""
    rids, _ = read_gctx_ids(raw)
    arch = json.loads((R / "selection/geo.json").read_text())["architecture"]
    bundle = load_bundle(R / "bundles" / arch)
    assert bundle.rows["row_id"].tolist() == rids
    assert (len(bundle.landmarks), len(bundle.targets)) == (n_landmarks, n_targets)
    per_probe = {m: pd.read_csv(R / f"evaluation/{m}/geo_te.tsv", sep="\t") for m in ("lr", f"dgex_{arch}")}
    for df in per_probe.values():
        assert len(df) == n_targets and set(df["gene"]) == set(bundle.targets["gene"]) and np.isfinite(df["mae"]).all()
    summary = pd.read_csv(R / "tables/summary_geo_te.tsv", sep="\t")
    assert {"lr", f"dgex_{arch}"} <= set(summary["method"])
    g = parse_gctx(R / f"inference/{arch}/demo_l1000.gctx")
    assert list(g.data_df.index) == rids and np.isfinite(g.data_df.to_numpy()).all()
    status = g.row_metadata_df["dgex_status"]
    assert (status == "measured").sum() == n_landmarks and (status == "inferred").sum() == n_targets
    te = load_matrix(R / "splits/geo_te.h5")
    assert list(g.data_df.columns) == [s for s in read_gctx_ids(raw)[1] if s in set(te.samples)]
    # each target probe's row carries its own GEO-te accuracy; landmark rows carry none
    meta, ev = g.row_metadata_df, per_probe[f"dgex_{arch}"].set_index("gene")
    tg = bundle.targets["gene"]
    np.testing.assert_allclose(meta.loc[tg, "dgex_test_mae"].astype(float), ev.loc[tg, "mae"], rtol=1e-6)
    assert (meta.loc[bundle.landmarks["gene"], "dgex_test_mae"].astype(float).isna()).all()
    np.testing.assert_array_equal(meta.loc[tg, "dgex_well_inferred"].astype(int), (ev.loc[tg, "pearson"] >= 0.5).astype(int))
    return per_probe[f"dgex_{arch}"].merge(per_probe["lr"], on="gene", suffixes=("_dgex", "_lr"))


@pytest.mark.slow
def test_demo_probe_level_model_trains_bundles_and_infers_its_own_predictions(tmp_path):
    """The tiny demo as a probe-level run: landmark rows pass through, targets are exactly the networks' predictions."""
    work = tmp_path / "work"
    write_config(work, {"lincs_model": "probes", "data": {"rnaseq": False}, "baselines": {"methods": ["lr"]},
                        "interpretation": {"enabled": False}, "inference": {"input": "demo"}})
    run_snakemake(work)
    R = work / "results" / "tiny"
    chip = read_chip(R / "l1000/demo.chip")
    n_probes = len(read_gctx_ids(R / "raw/geo.gctx")[0])
    check_probe_run(R, R / "raw/geo.gctx", len(chip), n_probes - len(chip))
    assert "l1000/demo.chip" in (R / "probes/geo.h5.prov.json").read_text()
    # landmarks on the training scale (qnorm/geo.h5), normalization none: landmark rows are the input, target rows the
    # networks' predictions (as the gene-level test in test_infer.py)
    arch = json.loads((R / "selection/geo.json").read_text())["architecture"]
    bundle = load_bundle(R / "bundles" / arch)
    qn = load_matrix(R / "qnorm/geo.h5", genes="landmarks")
    te = load_matrix(R / "splits/geo_te.h5")
    rows = [qn.samples.index(s) for s in te.samples]
    inp = tmp_path / "geo_te_landmarks.gctx"
    write_gct(inp, Gct(qn.values[rows], bundle.landmarks["probe_id"].tolist(), te.samples))
    out = tmp_path / "geo_te_inferred.gctx"
    infer_gctx(inp, bundle, out, InferenceSettings(normalization="none", chunk_size=7))
    g = parse_gctx(out)
    np.testing.assert_allclose(g.data_df.loc[bundle.landmarks["gene"]].to_numpy().T, qn.values[rows], rtol=1e-5, atol=1e-5)
    t = bundle.targets
    for p, f in sorted(bundle.part_files().items()):
        part = t["part"] == p
        expected = predict(load_model(f), te.X) * t.loc[part, "std"].to_numpy() + t.loc[part, "mean"].to_numpy()
        np.testing.assert_allclose(g.data_df.loc[t.loc[part, "gene"]].to_numpy().T, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.slow
def test_gpl96_probe_level_run_infers_every_probe_against_lr(tmp_path):
    """The real GPL96 compendium and chip: 978 landmark probes -> 21,305 probes, per-probe MAE of D-GEX and LR on GEO-te,
    and the demo L1000 profiles (GEO-te's landmark rows) inferred to all 22,283 rows in the compendium's order."""
    work = tmp_path / "work"
    # one small network, LR only, exact deduplication (240 profiles): the test's cost is the probes, not the grid
    gpl96_config(work, {"lincs_model": "probes", "dedup": {"method": "exact"}, "baselines": {"methods": ["lr"]},
                        "dgex": {"layers": [1], "units": [16], "dropout": [0.1], "epochs": 3},
                        "interpretation": {"enabled": False},
                        "inference": {"input": "demo", "chip": str(shared_file(*CHIP))}})
    started = time.time()
    run_snakemake(work)
    print(f"GPL96 probe-level run: {time.time() - started:.0f} s")
    R = work / "results" / "gpl96"
    both = check_probe_run(R, shared_file(*GPL96), 978, 21305)
    print(f"GEO-te per-probe MAE: D-GEX {both['mae_dgex'].mean():.4f}, LR (min-norm) {both['mae_lr'].mean():.4f}")
    sol = json.loads((R / "models/lr/solution.json").read_text())
    assert sol["min_norm"] and (sol["n_train"], sol["n_landmarks"]) == (192, 978)
    assert "LR (min-norm)" in (R / "tables/summary_geo_te.md").read_text()
    raw = read_gct(shared_file(*GPL96))
    g = parse_gctx(R / "inference" / json.loads((R / "selection/geo.json").read_text())["architecture"] / "demo_l1000.gctx")
    assert g.data_df.shape == (22283, 24) and g.row_metadata_df.loc["200814_at", "dgex_symbol"] == "PSME1"
    assert yaml.safe_load((work / "config.yaml").read_text())["lincs_model"] == "probes"
    assert raw.rids == list(g.data_df.index)
