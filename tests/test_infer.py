"""Inference on L1000 profiles (paper 3.4): bundles, id mapping, bad input, streaming GCTX output, the CLI and the rules."""
import os
import shutil
import subprocess
import sys

import h5py
import numpy as np
import pandas as pd
import pytest
import yaml

from helpers import REPO, SNAKEMAKE, shared_file
from dgex.architecture import Architecture
from dgex.baselines import fit_ols
from dgex.bundle import load_bundle, write_bundle
from dgex.evaluate import per_gene_table
from dgex.gctx import Gct, cmappy_compat, read_gct, write_gct
from dgex.infer import InferenceSettings, infer_gctx
from dgex.io import InputError
from dgex.l1000 import describe_ids, match_landmarks, read_chip
from dgex.matrix import load_matrix
from dgex.network import build_model, load_model, predict, save_model
from dgex.sources import read_gene_map
from dgex.target_reliability import WellInferredRule

N_TARGETS = 60  # real target genes of the small real-data bundle, in two parts


def parse_gctx(path):
    """A GCTX read back through cmapPy's own parser (with the numpy 2 / pandas 3 shim it needs)."""
    from cmapPy.pandasGEXpress.parse_gctx import parse

    with cmappy_compat():
        return parse(str(path))


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    """A bundle on the paper's 943 landmarks and the real chip: two small networks fitted on 209 real GPL96 profiles."""
    import keras

    lm = read_gene_map(shared_file("dgex", "map_lm.txt"))
    tg_all = read_gene_map(shared_file("dgex", "map_tg.txt"))
    chip = read_chip(shared_file("l1000", "L1000_EPSILON.R1.chip"))
    gpl = read_gct(shared_file("gpl96", "gpl96_3cohorts_n240x22283.gctx"))
    row = {p: i for i, p in enumerate(gpl.rids)}
    rng = np.random.default_rng(0)
    pick = np.sort(rng.choice(len(tg_all), N_TARGETS, replace=False))
    lm_cols = [row[p[0]] for p in lm.probes]
    X = gpl.values[:, lm_cols]
    Y = np.stack([gpl.values[:, [row[p] for p in tg_all.probes[i]]].mean(axis=1) for i in pick], axis=1)
    cohort = gpl.col_meta["cohort"].to_numpy()
    train = cohort != "borovecki"
    XY = np.concatenate([X, Y], axis=1)[train].astype(np.float64)
    mean, std = XY.mean(axis=0), XY.std(axis=0) + 1e-3  # the workflow's per-gene statistics
    Z = ((np.concatenate([X, Y], axis=1) - mean) / std).astype(np.float32)
    genes = lm.ensembl + [tg_all.ensembl[i] for i in pick]
    stats = pd.DataFrame({"gene": genes, "role": ["landmark"] * len(lm) + ["target"] * N_TARGETS, "mean": mean, "std": std})
    part = np.arange(N_TARGETS) % 2
    out = tmp_path_factory.mktemp("real_bundle")
    models = {}
    keras.utils.set_random_seed(0)
    for p in (0, 1):
        m = build_model(len(lm), int((part == p).sum()), Architecture(1, 32, 0.0), seed=p)
        m.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
        m.fit(Z[train, : len(lm)], Z[train][:, len(lm) + np.flatnonzero(part == p)], epochs=30, batch_size=32, verbose=0)
        models[p] = out / f"trained_part{p}.keras"
        save_model(m, models[p])
    reference = np.sort(X[train], axis=1).mean(axis=0, dtype=np.float64)
    # the LR baseline as the workflow stores it (models/lr/model.npz), and both methods' accuracy on the held-out cohort
    lr = fit_ols(Z[train, : len(lm)], Z[train, len(lm):])
    np.savez(out / "lr.npz", W=lr.W, b=lr.b, landmarks=np.array(lm.ensembl), targets=np.array(genes[len(lm):]))
    partition = pd.DataFrame({"gene": genes[len(lm):], "part": part})
    held_out = Z[~train]
    dgex_pred = np.empty((len(held_out), N_TARGETS), np.float32)
    for p in (0, 1):
        dgex_pred[:, part == p] = predict(load_model(models[p]), held_out[:, : len(lm)])
    reliability = {m: per_gene_table(genes[len(lm):], held_out[:, len(lm):], pred).rename(
                   columns={"mae": "test_mae", "pearson": "test_r"})
                   for m, pred in (("dgex", dgex_pred), ("lr", lr.predict(held_out[:, : len(lm)])))}
    args = dict(architecture="h1x32_d00", criterion="geo", models=models, partition=partition, stats=stats,
                reference=reference, landmark_map=lm, chip=chip, target_map=tg_all, source="test")
    manifest = write_bundle(out / "bundle", **args, reliability=reliability, linear_model=out / "lr.npz",
                            reliability_sources={"dgex": "borovecki cohort", "lr": "borovecki cohort"})
    return {"manifest": manifest, "bundle": load_bundle(manifest), "gpl": gpl, "X": X, "Y": Y, "train": train,
            "lm": lm, "chip": chip, "targets": genes[len(lm):], "l1000": shared_file("l1000", "test_l1000.gctx"), "tmp": out,
            "args": args, "reliability": reliability, "lr": lr, "mean": mean, "std": std}


def test_bundle_ties_models_landmarks_and_stats_together(real):
    b = real["bundle"]
    assert len(b.landmarks) == 943 and len(b.targets) == N_TARGETS
    assert b.landmarks["probe_id"].tolist() == [p[0] for p in real["lm"].probes]
    entrez = dict(zip(real["chip"]["probe_id"], real["chip"]["entrez_id"]))
    assert b.landmarks["entrez_id"].tolist() == [entrez[p] for p in b.landmarks["probe_id"]]
    assert b.landmarks.loc[b.landmarks["probe_id"] == "200814_at", ["symbol", "entrez_id"]].values.tolist() == [["PSME1", "5720"]]
    assert sorted(b.part_files()) == [0, 1] and np.all(np.diff(b.reference) >= 0)
    # a changed file is caught
    f = b.root / "targets.tsv"
    text = f.read_text()
    f.write_text(text.replace("\t0\t", "\t1\t", 1))
    try:
        with pytest.raises(InputError, match="sha256 mismatch"):
            load_bundle(real["manifest"])
    finally:
        f.write_text(text)


def test_real_l1000_file_gets_every_target_inferred(real, tmp_path, caplog):
    out = tmp_path / "inferred.gctx"
    with caplog.at_level("WARNING", logger="dgex.infer"):
        rep = infer_gctx(real["l1000"], real["bundle"], out, InferenceSettings(chunk_size=100))
    assert "z-scores" in caplog.text  # the file's provenance_code ends in ZSP: robust z-scores, not Level 3 expression
    src = read_gct(real["l1000"])
    g = parse_gctx(out)
    assert g.data_df.shape == (978 + N_TARGETS, 377) and rep.id_type == "probe" and rep.unused_rows == 35
    meta = g.row_metadata_df
    assert (meta["dgex_status"] == "measured").sum() == 978 and (meta["dgex_status"] == "inferred").sum() == N_TARGETS
    assert meta["dgex_model_input"].sum() == 943
    measured = g.data_df.loc[src.rids, src.cids].to_numpy().T
    np.testing.assert_array_equal(measured, src.values)  # landmarks passed through untouched
    inferred = g.data_df.loc[meta["dgex_status"] == "inferred"]
    assert list(inferred.index) == real["bundle"].targets["gene"].tolist()
    assert np.isfinite(inferred.to_numpy()).all()
    assert meta.loc["200814_at", "pr_gene_symbol"] == "PSME1" and meta.loc["200814_at", "dgex_ensembl_id"].startswith("ENSG")
    assert list(g.col_metadata_df.index) == src.cids
    assert (g.col_metadata_df["pert_iname"] == src.col_meta["pert_iname"].to_numpy()).all()


def test_entrez_ids_and_chunking_and_compression_give_the_same_values(real, tmp_path):
    src = read_gct(real["l1000"])
    ref = tmp_path / "by_probe.gctx"
    infer_gctx(real["l1000"], real["bundle"], ref, InferenceSettings(chunk_size=1000))
    entrez_in = tmp_path / "entrez.gctx"
    write_gct(entrez_in, Gct(src.values, [str(int(e)) for e in src.row_meta["pr_gene_id"]], src.cids))
    by_entrez = tmp_path / "by_entrez.gctx"
    rep = infer_gctx(entrez_in, real["bundle"], by_entrez, InferenceSettings(chunk_size=37, compression=4))
    assert rep.id_type == "entrez"
    with h5py.File(ref, "r") as a, h5py.File(by_entrez, "r") as b:
        assert b["0/DATA/0/matrix"].compression == "gzip"
        np.testing.assert_allclose(a["0/DATA/0/matrix"][:, 978:], b["0/DATA/0/matrix"][:, 978:], rtol=1e-6, atol=1e-6)
    with pytest.raises(InputError, match="id type is 'probe'.*use id type 'entrez'"):
        infer_gctx(entrez_in, real["bundle"], tmp_path / "x.gctx", InferenceSettings(id_type="probe"))


def test_inference_is_accurate_on_held_out_real_profiles(real, tmp_path):
    """GPL96 profiles of a cohort not trained on, given as landmark-only GCTX: inferred targets beat the training mean."""
    gpl, X, Y, train = real["gpl"], real["X"], real["Y"], real["train"]
    cids = [c for c, t in zip(gpl.cids, train) if not t]
    probes = real["bundle"].landmarks["probe_id"].tolist()
    inp = tmp_path / "borovecki.gctx"
    write_gct(inp, Gct(X[~train], probes, cids))
    out = tmp_path / "borovecki_inferred.gctx"
    infer_gctx(inp, real["bundle"], out, InferenceSettings(normalization="none"))
    with h5py.File(out, "r") as f:
        pred = f["0/DATA/0/matrix"][:, 943:]
    order = [real["targets"].index(g) for g in real["bundle"].targets["gene"]]  # output rows: grouped by part
    Y = Y[:, order]
    mae = np.abs(pred - Y[~train]).mean()
    mae_mean = np.abs(Y[train].mean(axis=0) - Y[~train]).mean()
    assert mae < 0.9 * mae_mean, (mae, mae_mean)  # measured: 1.11 vs 1.42


def test_missing_landmarks_are_named_or_imputed_on_request(real, tmp_path):
    src = read_gct(real["l1000"])
    keep = [i for i, r in enumerate(src.rids) if r not in ("200814_at", "218597_s_at")]  # PSME1, CISD1
    inp = tmp_path / "missing.gctx"
    write_gct(inp, Gct(src.values[:, keep], [src.rids[i] for i in keep], src.cids))
    with pytest.raises(InputError,
                       match=r"2 of the model's 943 landmarks are missing: .*PSME1 \(200814_at, Entrez 5720\).*CISD1"):
        infer_gctx(inp, real["bundle"], tmp_path / "out.gctx")
    assert not (tmp_path / "out.gctx").exists()
    out = tmp_path / "imputed.gctx"
    rep = infer_gctx(inp, real["bundle"], out, InferenceSettings(missing_landmarks="mean"))
    assert sorted(rep.imputed_landmarks) == ["CISD1", "PSME1"]
    with h5py.File(out, "r") as f:
        assert f.attrs["dgex_imputed_landmarks"] in ("PSME1,CISD1", "CISD1,PSME1")
        assert np.isfinite(f["0/DATA/0/matrix"][...]).all()
    with pytest.raises(InputError, match="more than max_missing=1"):
        infer_gctx(inp, real["bundle"], out, InferenceSettings(missing_landmarks="mean", max_missing=1))


@pytest.mark.parametrize("bad, message", [(-666.0, "-666 .CMap's placeholder"), (np.nan, "NaN or Inf")])
def test_placeholders_and_nan_are_named(real, tmp_path, bad, message):
    src = read_gct(real["l1000"])
    values = src.values.copy()
    values[200, src.rids.index("200814_at")] = bad
    inp = tmp_path / "bad.gctx"
    write_gct(inp, Gct(values, src.rids, src.cids))
    with pytest.raises(InputError, match=message) as err:
        infer_gctx(inp, real["bundle"], tmp_path / "out.gctx", InferenceSettings(chunk_size=64))
    assert src.cids[200] in str(err.value) and "PSME1" in str(err.value)
    assert not (tmp_path / "out.gctx").exists()


def test_ids_of_the_wrong_kind_are_explained(real, tmp_path):
    src = read_gct(real["l1000"])
    inp = tmp_path / "symbols.gctx"
    write_gct(inp, Gct(src.values, src.row_meta["pr_gene_symbol"].astype(str).tolist(), src.cids))
    with pytest.raises(InputError, match="rows are gene symbols"):
        infer_gctx(inp, real["bundle"], tmp_path / "out.gctx")
    assert describe_ids(["ENSG00000175063", "ENSG00000171174"]).startswith("Ensembl ids")
    with pytest.raises(InputError, match="id type must be"):
        match_landmarks(src.rids, real["bundle"], "symbol")


def test_a_model_on_another_landmark_set_is_refused(real, tmp_path):
    lm = real["lm"]
    stats = pd.DataFrame({"gene": ["ENSG00000000001", "ENSG00000000002", "ENSG00000000009"],
                          "role": ["landmark", "landmark", "target"],
                          "mean": [7.0, 8.0, 9.0], "std": [1.0, 1.0, 1.0]})
    from dgex.sources import GeneMap

    other = GeneMap(["AAA", "BBB"], ["ENSG00000000001", "ENSG00000000002"], [["999991_at"], ["999992_at"]])
    m = build_model(2, 1, Architecture(1, 4, 0.0), seed=0)
    save_model(m, tmp_path / "m.keras")
    args = dict(architecture="h1x4_d00", criterion="geo", models={0: tmp_path / "m.keras"},
                partition=pd.DataFrame({"gene": ["ENSG00000000009"], "part": [0]}), stats=stats, reference=np.array([7.0, 8.0]),
                landmark_map=other)
    with pytest.raises(InputError, match="trained on a different landmark set: 2 of its 2 landmarks"):
        write_bundle(tmp_path / "b1", chip=real["chip"], **args)
    manifest = write_bundle(tmp_path / "b2", **args)  # without a chip: probe ids only
    with pytest.raises(InputError, match="none of its 978 row ids is a landmark of the model.*different landmark set"):
        infer_gctx(real["l1000"], manifest, tmp_path / "out.gctx")
    # a network whose input width does not match the landmark list
    wrong = build_model(len(lm), 1, Architecture(1, 4, 0.0), seed=0)
    save_model(wrong, tmp_path / "wrong.keras")
    with pytest.raises(InputError, match="takes 943 inputs but there are 2 landmarks"):
        write_bundle(tmp_path / "b3", **(args | {"models": {0: tmp_path / "wrong.keras"}}))


def test_command_line(real, tmp_path, capsys):
    from dgex.infer import main

    out = tmp_path / "cli.gctx"
    assert main([str(real["l1000"]), str(out), "--bundle", str(real["manifest"].parent), "--chunk-size", "50", "-q"]) == 0
    assert parse_gctx(out).data_df.shape == (978 + N_TARGETS, 377)
    assert main([str(real["l1000"]), str(out), "--bundle", str(real["manifest"]), "--id-type", "entrez", "-q"]) == 2
    assert "id type is 'entrez'" in capsys.readouterr().err
    # `python -m dgex.infer` (bad input: exit status 2 and the reason, before any network is loaded)
    proc = subprocess.run([sys.executable, "-m", "dgex.infer", str(tmp_path / "absent.gctx"), str(out),
                           "--bundle", str(real["manifest"])],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "dgex-infer: error:" in proc.stderr and "absent.gctx: file not found" in proc.stderr
    script = REPO / ".venv" / "bin" / "dgex-infer"
    if script.exists():  # the console entry point of an installed checkout
        proc = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0 and "--missing-landmarks" in proc.stdout


def test_outputs_that_would_replace_an_input_are_refused(real, tmp_path, capsys, monkeypatch):
    """dgex-infer IN IN, a hard link to IN, a file in (or a link into) the bundle, a non-GCTX name: refused, nothing changed."""
    from dgex.infer import main

    bundle = real["manifest"].parent
    inp = tmp_path / "in.gctx"
    shutil.copy(real["l1000"], inp)
    os.link(inp, tmp_path / "in_link.gctx")
    os.link(bundle / "landmarks.tsv", tmp_path / "landmarks_link.gctx")
    before = {f: f.read_bytes() for f in [inp, *bundle.iterdir()]}
    cases = [(inp, "is the input"), (tmp_path / "in_link.gctx", "is the input"),
             (tmp_path / "landmarks_link.gctx", "is a file of the inference bundle"),
             *[(bundle / name, "lies inside the inference bundle") for name in ("manifest.json", "part0.keras", "new.gctx")],
             *[(tmp_path / name, "give a file name ending in .gctx") for name in ("out.h5", "out.gct")]]
    for out, message in cases:
        assert main([str(inp), str(out), "--bundle", str(bundle), "-q"]) == 2, out
        err = capsys.readouterr().err
        assert f"dgex-infer: error: {out}: " in err and message in err, err
    monkeypatch.chdir(tmp_path)  # the same file named two ways
    assert main(["in.gctx", "./in.gctx", "--bundle", str(bundle), "-q"]) == 2 and "is the input" in capsys.readouterr().err
    assert {f: f.read_bytes() for f in [inp, *bundle.iterdir()]} == before
    assert not (tmp_path / "out.h5").exists() and not (tmp_path / "out.gct").exists()


def test_output_folders_are_never_made_and_stale_temporaries_go(real, tmp_path, capsys):
    """A missing output folder and a folder as output are named errors; a killed run's temporaries of that output go."""
    from dgex.infer import main

    bundle = str(real["manifest"].parent)
    out = tmp_path / "no" / "such" / "out.gctx"
    assert main([str(real["l1000"]), str(out), "--bundle", bundle, "-q"]) == 2
    assert f"{out.parent}: the output's folder does not exist" in capsys.readouterr().err
    assert not (tmp_path / "no").exists()
    (tmp_path / "dir.gctx").mkdir()
    assert main([str(real["l1000"]), str(tmp_path / "dir.gctx"), "--bundle", bundle, "-q"]) == 2
    assert f"{tmp_path / 'dir.gctx'}: the output is a folder" in capsys.readouterr().err
    # temporaries of a killed run on this output go; a running writer's and other outputs' stay
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale, other = tmp_path / f".tmp-{dead.pid}-out.gctx", tmp_path / f".tmp-{dead.pid}-other.gctx"
    running = tmp_path / f".tmp-{os.getppid()}-out.gctx"
    for f in (stale, other, running):
        f.write_bytes(b"\x89HDF cut short")
    assert main([str(real["l1000"]), str(tmp_path / "out.gctx"), "--bundle", bundle, "-q"]) == 0
    assert not stale.exists() and other.exists() and running.exists()
    assert parse_gctx(tmp_path / "out.gctx").data_df.shape == (978 + N_TARGETS, 377)


def test_inferred_files_carry_reliability_and_the_flag_follows_the_rule(real, tmp_path):
    """dgex_test_mae / dgex_test_r of every inferred row, read back through cmapPy; dgex_well_inferred follows the rule."""
    b = real["bundle"]
    expected = real["reliability"]["dgex"].set_index("gene").loc[b.targets["gene"]]
    out = tmp_path / "inferred.gctx"
    infer_gctx(real["l1000"], b, out, InferenceSettings(chunk_size=200))
    meta = parse_gctx(out).row_metadata_df
    inferred = meta[meta["dgex_status"] == "inferred"]
    assert list(inferred.index) == b.targets["gene"].tolist()
    np.testing.assert_allclose(inferred["dgex_test_mae"].astype(float), expected["test_mae"], rtol=1e-7)
    np.testing.assert_allclose(inferred["dgex_test_r"].astype(float), expected["test_r"], rtol=1e-7)
    flags = inferred["dgex_well_inferred"].astype(int).to_numpy()
    np.testing.assert_array_equal(flags, (expected["test_r"] >= 0.5).to_numpy())
    assert 0 < flags.sum() < N_TARGETS  # the default rule splits this bundle's targets (measured: 4 of 60; LR 9)
    measured = meta[meta["dgex_status"] == "measured"]
    assert measured[["dgex_test_mae", "dgex_test_r", "dgex_well_inferred"]].isna().all().all()  # -666, read as missing
    assert "dgex_gtex_r" not in meta.columns  # no RNA-Seq in this bundle
    with h5py.File(out, "r") as f:
        assert f.attrs["dgex_method"] == "dgex"
        assert f.attrs["dgex_well_inferred_rule"].startswith("dgex_test_r >= 0.5: Pearson r")
        assert f.attrs["dgex_reliability_source"] == "borovecki cohort"
    # another rule: MAE at most the median MAE
    cut = float(np.median(expected["test_mae"]))
    infer_gctx(real["l1000"], b, out, InferenceSettings(), well_inferred=WellInferredRule("test_mae", cut))
    meta = parse_gctx(out).row_metadata_df
    flags = meta.loc[meta["dgex_status"] == "inferred", "dgex_well_inferred"].astype(int).to_numpy()
    np.testing.assert_array_equal(flags, (expected["test_mae"] <= cut).to_numpy())
    with h5py.File(out, "r") as f:
        assert f.attrs["dgex_well_inferred_rule"].startswith(f"dgex_test_mae <= {cut:g}: per-gene MAE")
    with pytest.raises(InputError, match="uses gtex_r, but the bundle records only .'test_mae', 'test_r'.*RNA-Seq"):
        infer_gctx(real["l1000"], b, tmp_path / "gtex.gctx", well_inferred=WellInferredRule("gtex_r", 0.5))
    assert not (tmp_path / "gtex.gctx").exists()
    for bad, message in [(("test_rho", 0.5), "metric must be one of"), (("test_r", 1.5), r"lies in \[-1, 1\]"),
                         (("test_mae", -0.1), "MAE threshold is >= 0")]:
        with pytest.raises(ValueError, match=message):
            WellInferredRule(*bad)


def test_lr_bundle_infers_the_lr_models_own_predictions(real, tmp_path):
    """--method lr on held-out GPL96 profiles (training scale): the LR model's own predictions, LR's reliability fields."""
    gpl, X, train, b = real["gpl"], real["X"], real["train"], real["bundle"]
    assert b.methods == ["dgex", "lr"]
    inp = tmp_path / "borovecki.gctx"
    write_gct(inp, Gct(X[~train], b.landmarks["probe_id"].tolist(), [c for c, t in zip(gpl.cids, train) if not t]))
    out = tmp_path / "lr.gctx"
    infer_gctx(inp, b, out, InferenceSettings(normalization="none", chunk_size=5), method="lr")
    n_lm = len(b.landmarks)
    Z = ((X[~train] - real["mean"][:n_lm]) / real["std"][:n_lm]).astype(np.float32)
    order = [real["targets"].index(g) for g in b.targets["gene"]]
    expected = real["lr"].predict(Z)[:, order] * real["std"][n_lm:][order] + real["mean"][n_lm:][order]
    g = parse_gctx(out)
    inferred = g.data_df.iloc[n_lm:]
    assert list(inferred.index) == b.targets["gene"].tolist()
    np.testing.assert_allclose(inferred.to_numpy().T, expected, rtol=1e-5, atol=1e-4)
    lr_rel = real["reliability"]["lr"].set_index("gene").loc[b.targets["gene"]]
    np.testing.assert_allclose(g.row_metadata_df["dgex_test_r"].iloc[n_lm:].astype(float), lr_rel["test_r"], rtol=1e-7)
    with h5py.File(out, "r") as f:
        assert f.attrs["dgex_method"] == "lr"
    dgex_out = tmp_path / "dgex.gctx"
    infer_gctx(inp, b, dgex_out, InferenceSettings(normalization="none"))
    assert np.abs(parse_gctx(dgex_out).data_df.iloc[n_lm:].to_numpy() - inferred.to_numpy()).mean() > 0.05  # two methods


def test_unknown_method_and_a_bundle_without_lr_are_refused(real, tmp_path, capsys):
    from dgex.infer import main

    with pytest.raises(InputError, match=r"method must be one of \('dgex', 'lr'\), got 'knn'"):
        infer_gctx(real["l1000"], real["bundle"], tmp_path / "out.gctx", method="knn")
    with pytest.raises(InputError, match="reliability: recorded for methods .'dgex', 'lr'., but the bundle serves .'dgex'."):
        write_bundle(tmp_path / "bad", **real["args"], reliability=real["reliability"])
    manifest = write_bundle(tmp_path / "dgex_only", **real["args"], reliability={"dgex": real["reliability"]["dgex"]})
    with pytest.raises(InputError, match="dgex_only: the bundle holds no LR model .methods: dgex.; write it from a run "
                                         "whose baselines.methods include lr"):
        infer_gctx(real["l1000"], manifest, tmp_path / "out.gctx", method="lr")
    assert not (tmp_path / "out.gctx").exists()
    assert main([str(real["l1000"]), str(tmp_path / "out.gctx"), "--bundle", str(manifest), "--method", "lr", "-q"]) == 2
    assert "the bundle holds no LR model" in capsys.readouterr().err
    assert main([str(real["l1000"]), str(tmp_path / "out.gctx"), "--bundle", str(manifest),
                 "--well-inferred-threshold", "2", "-q"]) == 2
    assert "--well-inferred-threshold: a Pearson r threshold lies in [-1, 1], got 2.0" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main([str(real["l1000"]), str(tmp_path / "out.gctx"), "--bundle", str(manifest), "--method", "knn"])
    assert exit_.value.code == 2 and "invalid choice: 'knn'" in capsys.readouterr().err
    assert not (tmp_path / "out.gctx").exists()


def test_workflow_bundle_and_inference_match_the_trained_networks(tiny_run, tmp_path):
    """The rules on the tiny run: demo L1000 inference, and a landmark GCTX on the training scale reproduces the predictions."""
    cfg = yaml.safe_load((tiny_run / "config.yaml").read_text())
    cfg["inference"] = {"input": "demo"}
    # the keys in config.yaml's order: Snakemake compares params as written, so sorted keys would make every rule's
    # params "changed" and rerun the whole shared tiny run (and every later test reading it)
    (tiny_run / "config_infer.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    R = tiny_run / "results" / "tiny"
    arch = "h1x16_d10"
    cmd = SNAKEMAKE + ["-s", str(REPO / "Snakefile"), "--directory", str(tiny_run), "--configfile",
                       str(tiny_run / "config_infer.yaml"),
                       "--cores", "2", f"results/tiny/inference/{arch}/demo_l1000.gctx"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    g = parse_gctx(R / "inference" / arch / "demo_l1000.gctx")
    assert (g.row_metadata_df["dgex_status"] == "inferred").sum() == 60
    assert (g.row_metadata_df["dgex_model_input"] == 1).sum() == 20
    assert (R / "inference" / arch / "demo_l1000.gctx.prov.json").exists()
    # inference.chunk_size says how fast, not what: editing it reruns nothing
    cfg["inference"]["chunk_size"] = 123
    (tiny_run / "config_infer.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    dry = subprocess.run(cmd + ["--dry-run"], capture_output=True, text=True, timeout=300)
    assert dry.returncode == 0 and "Nothing to be done" in dry.stdout + dry.stderr, (dry.stdout + dry.stderr)[-3000:]
    # landmarks already on the training scale (qnorm/geo.h5), normalization none: exactly the networks' predictions
    bundle = load_bundle(R / "bundles" / arch)
    qn = load_matrix(R / "qnorm" / "geo.h5", genes="landmarks")
    te = load_matrix(R / "splits" / "geo_te.h5")
    rows = [qn.samples.index(s) for s in te.samples]
    inp = tmp_path / "geo_te_landmarks.gctx"
    write_gct(inp, Gct(qn.values[rows], bundle.landmarks["probe_id"].tolist(), te.samples))
    out = tmp_path / "geo_te_inferred.gctx"
    infer_gctx(inp, bundle, out, InferenceSettings(normalization="none", chunk_size=7))
    with h5py.File(out, "r") as f:
        inferred = f["0/DATA/0/matrix"][:, 20:]
    t = bundle.targets
    for p, f in sorted(bundle.part_files().items()):
        cols = np.flatnonzero(t["part"] == p)
        expected = predict(load_model(f), te.X) * t["std"].to_numpy()[cols] + t["mean"].to_numpy()[cols]
        np.testing.assert_allclose(inferred[:, cols], expected, rtol=1e-4, atol=1e-4)
    # the LR baseline the bundle holds: exactly the workflow's own LR predictions (predictions/lr/geo_te.h5)
    assert bundle.methods == ["dgex", "lr"]
    lr_out = tmp_path / "geo_te_lr.gctx"
    infer_gctx(inp, bundle, lr_out, InferenceSettings(normalization="none", chunk_size=7), method="lr")
    lr_pred = load_matrix(R / "predictions" / "lr" / "geo_te.h5")
    assert lr_pred.samples == te.samples
    cols = [lr_pred.genes.index(g) for g in t["gene"]]
    expected = lr_pred.values[:, cols] * t["std"].to_numpy() + t["mean"].to_numpy()
    lr_g = parse_gctx(lr_out)
    np.testing.assert_allclose(lr_g.data_df.iloc[20:].to_numpy().T, expected, rtol=1e-4, atol=1e-4)
    # reliability: D-GEX's GEO-te fields are its evaluation (the bundle's networks, selected on GEO-va); its GTEx-te
    # fields are the same networks' predictions on GTEx-te (the run's GTEx-te evaluation is of the 1000G-va selection)
    meta = g.row_metadata_df.loc[t["gene"]]
    ev = pd.read_csv(R / "evaluation" / f"dgex_{arch}" / "geo_te.tsv", sep="\t").set_index("gene").loc[t["gene"]]
    np.testing.assert_allclose(meta["dgex_test_mae"].astype(float), ev["mae"], rtol=1e-6)
    np.testing.assert_allclose(meta["dgex_test_r"].astype(float), ev["pearson"], rtol=1e-6)
    np.testing.assert_array_equal(meta["dgex_well_inferred"].astype(int), (ev["pearson"] >= 0.5).astype(int))
    gtex = load_matrix(R / "splits" / "gtex_te.h5")
    pred = np.empty(gtex.Y.shape, np.float32)
    for p, f in sorted(bundle.part_files().items()):
        pred[:, [gtex.targets.index(gene) for gene in t.loc[t["part"] == p, "gene"]]] = predict(load_model(f), gtex.X)
    own = per_gene_table(gtex.targets, gtex.Y, pred).set_index("gene").loc[t["gene"]]
    np.testing.assert_allclose(meta["dgex_gtex_mae"].astype(float), own["mae"], rtol=1e-5)
    np.testing.assert_allclose(meta["dgex_gtex_r"].astype(float), own["pearson"], rtol=1e-5, atol=1e-6)
    lr_ev = pd.read_csv(R / "evaluation" / "lr" / "gtex_te.tsv", sep="\t").set_index("gene").loc[t["gene"]]
    np.testing.assert_allclose(lr_g.row_metadata_df.loc[t["gene"], "dgex_gtex_r"].astype(float), lr_ev["pearson"], rtol=1e-6)
    with h5py.File(R / "inference" / arch / "demo_l1000.gctx", "r") as f:
        assert f.attrs["dgex_method"] == "dgex" and f.attrs["dgex_well_inferred_rule"].startswith("dgex_test_r >= 0.5")
    with h5py.File(lr_out, "r") as f:
        assert f.attrs["dgex_method"] == "lr" and "evaluation/lr/geo_te.tsv" in f.attrs["dgex_reliability_source"]


def test_rank_mapper_gives_map_to_reference_bytes():
    """The streaming rank mapping equals map_to_reference bit for bit under every ties rule: no ties, ties, 4-decimal
    values (ties in every profile), -0.0 beside 0.0, constant profiles, one profile, none, chunk edges."""
    from dgex.inferrer import RankMapper
    from dgex.normalize import map_to_reference

    rng = np.random.default_rng(0)
    ref = np.sort(rng.normal(8, 2, 50))
    V = rng.normal(8, 2, (300, 50)).astype(np.float32)
    V[5, :10] = 3.0
    V[7, 3] = V[7, 9]
    V[8, :2] = [-0.0, 0.0]
    V[9] = 1.0
    V[200:] = np.round(V[200:], 1)
    for ties in ("average", "original"):
        for micro in (True, False):
            m = RankMapper(ref, ties, microarray=micro)
            for X in (V, V[:1], V[:0], V[10:190]):
                expected = map_to_reference(X, ref, ties, microarray=micro)
                assert m(X, chunk=64).tobytes() == expected.tobytes(), (ties, micro, len(X))
    with pytest.raises(ValueError, match="C-contiguous"):
        RankMapper(ref)(V, np.empty((50, 300), np.float32).T)


def test_pipelined_writer_gives_the_serial_bytes_and_a_failed_write_leaves_nothing(real, tmp_path):
    """Writing one block while the next is inferred changes no byte; a write that fails in the writer thread (the file
    size limit, as a full disk) ends the command with that error and leaves neither the output nor its temporary."""
    serial, piped = tmp_path / "serial" / "out.gctx", tmp_path / "piped" / "out.gctx"
    for out, threaded in ((serial, False), (piped, True)):
        out.parent.mkdir()
        infer_gctx(real["l1000"], real["bundle"], out, InferenceSettings(chunk_size=50), threaded_writer=threaded)
    assert serial.read_bytes() == piped.read_bytes()
    limit = serial.stat().st_size // 2
    code = (f"import resource, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
            f"resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit})); from dgex.infer import main; "
            f"sys.exit(main([{str(real['l1000'])!r}, {str(tmp_path / 'big.gctx')!r}, '--bundle', "
            f"{str(real['manifest'].parent)!r}, '--chunk-size', '50', '-q']))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert proc.returncode != 0 and "File too large" in proc.stderr and "in _write" in proc.stderr, proc.stderr[-3000:]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["piped", "serial"]
