"""Matrix files, provenance records, per-gene metrics and GEO splits."""
import json

import numpy as np
import pytest

from dgex.evaluate import per_gene_mae, per_gene_pearson, per_gene_table
from dgex.matrix import Matrix, load_matrix, save_matrix
from dgex.provenance import sha256_file, write_provenance
from dgex.splits import assign_splits


def test_matrix_round_trip_and_bytes(tmp_path):
    rng = np.random.default_rng(1)
    m = Matrix(rng.normal(size=(6, 5)).astype(np.float32), [f"s{i}" for i in range(6)], [f"ENSG{i:011d}" for i in range(5)], 2,
               {"source": "x"})
    save_matrix(tmp_path / "a.h5", m)
    save_matrix(tmp_path / "b.h5", m)
    assert (tmp_path / "a.h5").read_bytes() == (tmp_path / "b.h5").read_bytes()
    back = load_matrix(tmp_path / "a.h5")
    np.testing.assert_array_equal(back.values, m.values)
    assert back.samples == m.samples and back.genes == m.genes and back.n_landmarks == 2
    np.testing.assert_array_equal(back.X, m.values[:, :2])
    np.testing.assert_array_equal(back.Y, m.values[:, 2:])
    assert load_matrix(tmp_path / "a.h5", genes="landmarks").values.shape == (6, 2)


def test_provenance_record(tmp_path):
    inp, out = tmp_path / "in.txt", tmp_path / "out.txt"
    inp.write_text("a\n")
    out.write_text("b\n")
    rec = write_provenance(tmp_path / "out.txt.prov.json", "some_rule", [inp], [out], {"k": 1, "grid": [0.1, 0.2]}, started=0.0,
                           seed=3)
    on_disk = json.loads((tmp_path / "out.txt.prov.json").read_text())
    assert on_disk["outputs"] == {str(out): sha256_file(out)} == rec["outputs"]
    assert on_disk["inputs"] == {str(inp): sha256_file(inp)}
    assert on_disk["params"] == {"k": 1, "grid": [0.1, 0.2]} and on_disk["seed"] == 3
    assert {"numpy", "keras", "snakemake"} <= set(on_disk["packages"])
    assert len(on_disk["code"]["dgex_source_sha256"]) == 64


def test_per_gene_metrics():
    Y = np.array([[1.0, 0.0], [3.0, 2.0], [5.0, 4.0]], np.float32)
    Y_hat = np.array([[2.0, 0.0], [3.0, 2.0], [4.0, 1.0]], np.float32)
    np.testing.assert_allclose(per_gene_mae(Y, Y_hat), [2 / 3, 1.0])
    r = per_gene_pearson(Y, Y_hat)
    np.testing.assert_allclose(r[0], np.corrcoef(Y[:, 0], Y_hat[:, 0])[0, 1])
    assert np.isnan(per_gene_pearson(Y, np.ones_like(Y))).all()
    t = per_gene_table(["a", "b"], Y, Y_hat)
    assert list(t.columns) == ["gene", "mae", "pearson"]
    with pytest.raises(ValueError, match="shapes differ"):
        per_gene_mae(Y, Y_hat[:2])


def test_geo_split_sizes_match_the_paper():
    """111,009 deduplicated profiles -> 88,807 / 11,101 / 11,101."""
    samples = [f"GSM{i}" for i in range(111_009)]
    t = assign_splits(samples, {"geo_va": 0.1, "geo_te": 0.1}, seed=0)
    assert t["split"].value_counts().to_dict() == {"geo_tr": 88_807, "geo_va": 11_101, "geo_te": 11_101}
    assert set(t["sample"]) == set(samples)
    again = assign_splits(samples, {"geo_va": 0.1, "geo_te": 0.1}, seed=0)
    other = assign_splits(samples, {"geo_va": 0.1, "geo_te": 0.1}, seed=1)
    assert t.equals(again) and not t.equals(other)
    with pytest.raises(ValueError, match="geo_va"):
        assign_splits(samples, {"geo_va": 0.6, "geo_te": 0.5}, seed=0)
