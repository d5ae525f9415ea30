"""Bad input stops a stage with an error naming the file and the problem, and leaves no output under a final name."""
from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from helpers import run_snakemake, write_config
from dgex.dedup import deduplicate
from dgex.gctx import Gct, GctxReader, iter_gctx_profiles, read_gct, read_gctx_ids, sniff_format, write_gct
from dgex.genes import rnaseq_genes
from dgex.io import InputError
from dgex.matrix import Matrix, save_matrix
from dgex.sources import GeneMap, read_g1000, read_gene_map, write_g1000
from dgex.stream import gather, matrix_info


def gctx(path: Path, n_profiles=30, n_probes=40, seed=0, rids=None, cids=None) -> Path:
    rng = np.random.default_rng(seed)
    rids = rids or [f"{1000 + i}_at" for i in range(n_probes)]
    cids = cids or [f"GSM{i}" for i in range(n_profiles)]
    write_gct(path, Gct(rng.uniform(4, 15, (len(cids), len(rids))).astype(np.float32), rids, cids))
    return path


def raw_gctx(path: Path, values: np.ndarray, rids: list[str], cids: list[str]) -> Path:
    """A GCTX written with h5py directly (cmapPy refuses some of the defects under test)."""
    with h5py.File(path, "w") as f:
        f.attrs["version"] = np.bytes_("GCTX1.0")
        f.create_dataset("0/DATA/0/matrix", data=values.astype(np.float32))
        f.create_dataset("0/META/ROW/id", data=np.array(rids, dtype="S"))
        f.create_dataset("0/META/COL/id", data=np.array(cids, dtype="S"))
    return path


def truncated(src: Path, dest: Path, keep: float) -> Path:
    data = src.read_bytes()
    dest.write_bytes(data[: int(len(data) * keep)])
    return dest


def test_truncated_gctx(tmp_path):
    good = gctx(tmp_path / "good.gctx", n_profiles=3000, n_probes=200)
    readers = [read_gctx_ids, read_gct, lambda p: list(iter_gctx_profiles(p, 500)), lambda p: GctxReader(p, block_rows=500)]
    for keep in (0.5, 0.97, 0.002):
        bad = truncated(good, tmp_path / f"bad{keep}.gctx", keep)
        for read in readers:
            with pytest.raises(InputError, match=rf"bad{keep}\.gctx: (corrupt|.*truncated|.*unreadable|expected a GCTX)"):
                read(bad)


def test_html_or_text_instead_of_gctx(tmp_path):
    html = tmp_path / "geo.gctx"
    html.write_text("<!DOCTYPE html>\n<html><head><title>403 Forbidden</title></head></html>\n")
    with pytest.raises(InputError, match=r"geo\.gctx: expected a GCTX \(HDF5\) or GCT text file, but the file is an HTML page"):
        sniff_format(html)
    with pytest.raises(InputError, match=r"geo\.gctx: expected a GCTX .* not GCT/GCTX"):
        html.write_text("gene\tsample1\nA\t1.0\n")
        read_gctx_ids(html)


def test_nan_and_inf_values(tmp_path):
    V = np.random.default_rng(0).uniform(4, 15, (20, 10)).astype(np.float32)
    V[3, 4], V[7, 1], V[9, 9] = np.nan, np.inf, np.nan
    p = raw_gctx(tmp_path / "nan.gctx", V, [f"p{i}" for i in range(10)], [f"s{i}" for i in range(20)])
    with pytest.raises(InputError, match=r"nan\.gctx.*: 3 non-finite value\(s\) \(2 NaN, 1 Inf\)"):
        read_gct(p)
    with pytest.raises(InputError, match=r"nan\.gctx \(profiles 0\.\.19\): 3 non-finite"):
        list(iter_gctx_profiles(p, 100))


def test_duplicated_sample_or_gene_ids(tmp_path):
    V = np.ones((4, 3), dtype=np.float32)
    p = raw_gctx(tmp_path / "dupcol.gctx", V, ["a", "b", "c"], ["s1", "s2", "s1", "s3"])
    with pytest.raises(InputError, match=r"dupcol\.gctx: column ids: 1 duplicated id\(s\), e.g. \['s1'\]"):
        read_gctx_ids(p)
    p = raw_gctx(tmp_path / "duprow.gctx", V, ["a", "b", "a"], ["s1", "s2", "s3", "s4"])
    with pytest.raises(InputError, match=r"duprow\.gctx: row ids: 1 duplicated id\(s\), e.g. \['a'\]"):
        read_gctx_ids(p)
    g = Gct(np.ones((2, 3), np.float32), ["ENSG1.1", "ENSG2.1", "ENSG1.1"], ["x", "y"])
    write_g1000(tmp_path / "g.txt.gz", g, ["A", "B", "A"], ["1"] * 3, [1] * 3)
    with pytest.raises(InputError, match=r"g\.txt\.gz: TargetID: 1 duplicated id"):
        read_g1000(tmp_path / "g.txt.gz")
    (tmp_path / "map.txt").write_text("A\tENSG1\tp1\nB\tENSG1\tp2\n")
    with pytest.raises(InputError, match=r"map\.txt: Ensembl ids: 1 duplicated id"):
        read_gene_map(tmp_path / "map.txt")


def test_genes_missing_from_a_dataset():
    lm = GeneMap(["A"], ["ENSG1"], [["p1"]])
    tg = GeneMap(["B", "C"], ["ENSG2", "ENSG3"], [["p2"], ["p3"]])
    g = Gct(np.ones((2, 2), np.float32), ["ENSG1.4", "ENSG2.1"], ["x", "y"])
    with pytest.raises(InputError, match=r"gtex\.gctx: 1 of 3 landmark/target gene\(s\) are missing, e.g. \['ENSG3'\]"):
        rnaseq_genes(g, lm, tg, "gtex.gctx")


def test_empty_selection_and_missing_samples(tmp_path):
    save_matrix(tmp_path / "m.h5", Matrix(np.ones((3, 2), np.float32), ["a", "b", "c"], ["g1", "g2"], 1))
    with pytest.raises(InputError, match=r"m\.h5: split geo_te selects no profiles"):
        gather(tmp_path / "m.h5", [], "split geo_te")
    (tmp_path / "m2.h5").write_bytes((tmp_path / "m.h5").read_bytes()[:300])
    with pytest.raises(InputError, match=r"m2\.h5: corrupt or not a matrix file"):
        matrix_info(tmp_path / "m2.h5")
    with pytest.raises(InputError, match="the compendium holds no profiles"):
        deduplicate(np.empty((0, 5), np.float32))


# --------------------------------------------------------------------------- through the workflow
def assert_no_outputs(work: Path, *rel: str) -> None:
    R = work / "results" / "tiny"
    for r in rel:
        assert not (R / r).exists(), f"{r} exists after a failed stage"
    leftovers = [p for p in R.rglob("*") if p.name.startswith(".tmp-") or p.name.endswith(".part")]
    assert not leftovers, leftovers


@pytest.mark.slow
def test_workflow_stops_on_a_bad_compendium_and_leaves_nothing(tmp_path):
    """A user compendium (data.compendium) with NaN values: the GEO stages fail naming the file; no final outputs."""
    V = np.random.default_rng(1).uniform(4, 15, (40, 8)).astype(np.float32)
    V[5, 2] = np.nan
    bad = raw_gctx(tmp_path / "my_compendium.gctx", V, [f"p{i}" for i in range(8)], [f"GSM{i}" for i in range(40)])
    work = tmp_path / "w"
    write_config(work, {"data": {"compendium": str(bad), "rnaseq": False}})
    proc = run_snakemake(work, "--keep-going", "results/tiny/dedup/geo_profiles.tsv", "results/tiny/genes/geo.h5", check=False)
    logs = "".join(p.read_text() for p in (work / "results" / "tiny" / "logs").rglob("*.log"))
    assert proc.returncode != 0
    assert "my_compendium.gctx (profiles 0..39): 1 non-finite value(s) (1 NaN, 0 Inf)" in logs
    assert_no_outputs(work, "dedup/geo_profiles.tsv", "genes/geo.h5", "dedup/geo_profiles.tsv.prov.json")


@pytest.mark.slow
def test_workflow_stops_on_wrong_checksum_from_mirror(tmp_path):
    """A mirror file whose sha256 differs from the configured one: the download stage fails, nothing under the final name."""
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "map_lm.txt").write_text("A\tENSG1\tp1\n")
    work = tmp_path / "w"
    write_config(work, {"data": {"source": "download", "download": {"dir": "dl", "mirror": str(mirror), "retries": 0}}})
    proc = run_snakemake(work, "dl/map_lm.txt", check=False)
    log = (work / "results" / "tiny" / "logs" / "download" / "map_lm.log").read_text()
    assert proc.returncode != 0 and "map_lm.txt: sha256 mismatch" in log and "expected 7c0be34e" in log
    assert not (work / "dl" / "map_lm.txt").exists() and not (work / "dl" / "map_lm.txt.part").exists()


# Config values the schema lets through but the run cannot use: refused when the DAG is built, naming the key (issue 14).
BAD_CONFIGS = {
    "run_name_parent": ({"run_name": ".."}, ["run_name: '..' is not a plain folder name under results/"]),
    "run_name_dot": ({"run_name": "."}, ["run_name: '.' is not a plain folder name under results/"]),
    "whole_floats": ({"seed": 1.0, "dgex": {"units": [16.0]}, "partitions": {"n_parts": 2.0}},
                     ["must be integers", "seed: 1.0 (write 1)", "dgex.units[0]: 16.0 (write 16)",
                      "partitions.n_parts: 2.0 (write 2)"]),
    # figure and table settings are all checked together, each named
    "figures_tables": ({"tables": {"dropout": 0.25},
                        "figures": {"architectures": ["1x16", "2x16"], "colors": {"lr": "blurple", "lasso": "red"},
                                    "colormap": "virdis"}},
                       ["tables.dropout: 0.25 is not a rate of dgex.dropout [0.1]",
                        "figures.architectures: ['2x16'] not in the dgex grid (layers x units: ['1x16'])",
                        "figures.colors.lr: 'blurple' is not a matplotlib colour",
                        "figures.colors.lasso: no such method; colours are set for ['dgex', 'lr', 'lr_l1', 'lr_l2', 'knn']",
                        "figures.colormap: 'virdis' is not a matplotlib colormap; one of [", "'viridis'"]),
    # the rule of dgex-infer's dgex_well_inferred flag and the report's well-inferred table (issue 18)
    "well_inferred_r": ({"inference": {"well_inferred": {"metric": "test_r", "threshold": 1.5}}},
                        ["inference.well_inferred.threshold: a Pearson r threshold lies in [-1, 1], got 1.5"]),
    "well_inferred_gtex": ({"data": {"rnaseq": False}, "inference": {"well_inferred": {"metric": "gtex_r", "threshold": 0.5}}},
                           ["inference.well_inferred.metric: gtex_r is measured on GTEx-te, which needs data.rnaseq: true"]),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(BAD_CONFIGS))
def test_bad_config_is_refused_at_dag_time_naming_the_key(tmp_path, case):
    extra, messages = BAD_CONFIGS[case]
    write_config(tmp_path, extra)
    proc = run_snakemake(tmp_path, "-n", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and all(m in out for m in messages), out[-3000:]
