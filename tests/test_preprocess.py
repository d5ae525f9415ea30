"""Data stages against independent references: dedup vs exact pairwise distances, quantile normalization vs the original
code's loops, per-gene statistics, gene matrices (real maps and the real GPL96 compendium), block-wise matrix reading."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import pdist, squareform
from scipy.stats import rankdata

from helpers import shared_file
from dgex.dedup import (ArraySource, close_pairs, deduplicate, keep_from_pairs, kmeans_labels, kmeans_plusplus,
                        pair_groups, sketch_pairs)
from dgex.gctx import Gct, GctxReader, iter_gctx_profiles, read_gct, read_gctx_ids, write_gct
from dgex.genes import microarray_genes, rnaseq_genes, select_targets, strip_version
from dgex.io import InputError
from dgex.matrix import Matrix, save_matrix
from dgex.normalize import argsort_rows, gene_stats, map_to_reference, quantile_reference, standardize
from dgex.sources import GeneMap, read_gene_map
from dgex.stream import gather, iter_blocks


def compendium(n_unique=150, n_dup=30, d=400, seed=0, offset=9.0):
    """Profiles on the log2 scale (about 4-15) with planted near-duplicates (distance ~0.3) and near-threshold pairs."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 3, (4, d))
    X = offset + centers[rng.integers(0, 4, n_unique)] + rng.normal(0, 1, (n_unique, d))
    src = rng.integers(0, n_unique, n_dup)
    dup = X[src] + rng.normal(0, 0.3 / np.sqrt(d), (n_dup, d))
    # pairs at distance 0.98 and 1.02 from a profile: float32 Gram products alone cannot tell these apart at this offset
    u = rng.normal(0, 1, (2, d))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    edge = np.stack([X[0] + 0.98 * u[0], X[1] + 1.02 * u[1]])
    Y = np.concatenate([X, dup, edge]).astype(np.float32)
    return Y[rng.permutation(len(Y))]


def brute_pairs(X, t):
    D = squareform(pdist(X.astype(np.float64)))
    i, j = np.nonzero(np.triu(D < t, k=1))
    return set(zip(i.tolist(), j.tolist()))


def original_rule(X, t):
    """nodup_idx.py's keep() on one cluster, written as the original: drop j for every close pair i < j."""
    D = squareform(pdist(X.astype(np.float64)))
    keep = set(range(len(X)))
    for i, j in zip(*np.where(D < t)):
        if i < j:
            keep.discard(j)
    return np.isin(np.arange(len(X)), sorted(keep))


# --------------------------------------------------------------------------- deduplication
def test_close_pairs_equal_exact_float64_distances():
    X = compendium()
    assert set(map(tuple, close_pairs(X, 1.0, block=64).tolist())) == brute_pairs(X, 1.0)
    assert set(map(tuple, close_pairs(X, 30.0, block=50).tolist())) == brute_pairs(X, 30.0)


def test_original_and_greedy_rules_on_a_chain():
    pairs = np.array([[0, 1], [1, 2]])  # 0~1, 1~2, but 0 and 2 far apart
    assert keep_from_pairs(3, pairs, "original").tolist() == [True, False, False]
    assert keep_from_pairs(3, pairs, "greedy").tolist() == [True, False, True]


def test_exact_mode_reproduces_the_original_code():
    X = compendium(seed=1)
    assert (deduplicate(X, 1.0, method="exact") == original_rule(X, 1.0)).all()


def test_kmeans_mode_matches_exact_mode_on_small_data():
    X = compendium(seed=2)
    exact = deduplicate(X, 1.0, method="exact")
    km = deduplicate(X, 1.0, method="kmeans", n_clusters=4, seed=0, batch_size=64)
    assert (km == exact).all() and exact.sum() == 151  # copies and the 0.98 neighbour removed; the 1.02 one kept
    # with more clusters than groups, k-means can only keep more (close pairs split across clusters), never fewer
    km20 = deduplicate(X, 1.0, method="kmeans", n_clusters=20, seed=0, batch_size=64)
    assert (km20 >= exact).all()


def test_kmeans_dedup_is_seeded():
    X = compendium(seed=3)
    a = deduplicate(X, 1.0, n_clusters=6, seed=5, batch_size=50)
    b = deduplicate(X, 1.0, n_clusters=6, seed=5, batch_size=50)
    assert (a == b).all()


def test_streamed_gctx_dedup_equals_in_memory(tmp_path):
    X = compendium(seed=4)
    rids = [f"{1000 + i}_at" for i in range(X.shape[1])]
    write_gct(tmp_path / "c.gctx", Gct(X, rids, [f"GSM{i}" for i in range(len(X))]))
    src = GctxReader(tmp_path / "c.gctx", block_rows=32)
    try:
        streamed = deduplicate(src, 1.0, n_clusters=5, seed=0, batch_size=40, budget_bytes=40 * X.shape[1] * 4)
    finally:
        src.close()
    in_memory = deduplicate(X, 1.0, method="exact")
    assert (streamed == in_memory).all()


def test_kmeans_plusplus_gives_sklearns_centers_bit_for_bit():
    from sklearn.cluster import kmeans_plusplus as sklearn_kmeans_plusplus

    rng = np.random.default_rng(8)
    for n, d, k, seed in [(300, 40, 10, 0), (700, 3000, 25, 3), (60, 5, 60, 1)]:  # 3000 features: many float64 chunks
        X = rng.normal(8, 2, (n, d)).astype(np.float32)
        X[5] = X[4]  # an exact duplicate: zero distances
        assert np.array_equal(kmeans_plusplus(X, k, seed), sklearn_kmeans_plusplus(X, k, random_state=seed)[0])


def straightforward_kmeans_labels(X, k, seed, batch_size, epochs, block_rows):
    """The k-means stage as first written: sklearn's k-means++ and MiniBatchKMeans with its defaults, blocks read whole."""
    from sklearn.cluster import MiniBatchKMeans
    from sklearn.cluster import kmeans_plusplus as sklearn_kmeans_plusplus

    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(len(X), size=min(max(3 * batch_size, 3 * k), len(X)), replace=False))
    km = MiniBatchKMeans(n_clusters=k, init=sklearn_kmeans_plusplus(X[rows], k, random_state=seed)[0], n_init=1,
                         batch_size=batch_size, random_state=seed)
    starts = np.arange(0, len(X), block_rows)
    for _ in range(epochs):
        for s in starts[rng.permutation(len(starts))]:
            block = X[s : s + block_rows][rng.permutation(len(X[s : s + block_rows]))]
            for b in range(0, len(block), batch_size):
                if b == 0 or len(block) - b >= k:
                    km.partial_fit(block[b : b + batch_size])
    return km.predict(X)


def test_kmeans_labels_equal_the_straightforward_pipeline():
    X = compendium(n_unique=400, n_dup=60, seed=9)
    for block_rows, batch_size in [(64, 50), (100, 100)]:
        got = kmeans_labels(ArraySource(X, block_rows), 7, seed=2, batch_size=batch_size, epochs=2)
        assert np.array_equal(got, straightforward_kmeans_labels(X, 7, 2, batch_size, 2, block_rows))


def test_sketch_candidates_include_every_close_pair():
    X = compendium(seed=10)
    for cols in [np.arange(3), np.arange(0, 400, 7), np.arange(400)]:
        found = set(map(tuple, sketch_pairs(X[:, cols], 1.0, block=37).tolist()))
        assert brute_pairs(X, 1.0) <= found
    assert len(sketch_pairs(X[:, :64], 1.0)) < 0.01 * len(X) ** 2  # a useful sketch: few candidates


def test_pair_groups_hold_at_most_the_budget_of_profiles():
    pairs = np.array([[0, 1], [0, 2], [3, 4], [1, 5], [6, 6], [2, 7]])
    groups = pair_groups(pairs, 3)
    assert np.array_equal(np.concatenate(groups), pairs)
    assert all(len(np.unique(g)) <= 3 for g in groups) and len(groups) == 4
    assert len(pair_groups(pairs, 1)) == len(pairs)  # one pair per group when even a pair exceeds the budget


def test_streamed_dedup_equals_per_cluster_brute_force(tmp_path):
    X = compendium(n_unique=300, n_dup=80, seed=11)
    rids = [f"{1000 + i}_at" for i in range(X.shape[1])]
    write_gct(tmp_path / "c.gctx", Gct(X, rids, [f"GSM{i}" for i in range(len(X))]))
    for rule in ["original", "greedy"]:
        with GctxReader(tmp_path / "c.gctx", block_rows=50) as src:  # blocks of whole HDF5 chunks, a partial last one
            labels = kmeans_labels(src, 6, seed=4, batch_size=60)
            # a budget of 30 profiles: verification in several groups, each reading only its blocks
            keep = deduplicate(src, 1.0, n_clusters=6, seed=4, batch_size=60, rule=rule, budget_bytes=30 * X.shape[1] * 4)
        expect = np.ones(len(X), dtype=bool)
        for c in np.unique(labels):
            rows = np.flatnonzero(labels == c)
            pairs = np.array(sorted(brute_pairs(X[rows], 1.0)), dtype=np.int64).reshape(-1, 2)
            expect[rows] = keep_from_pairs(len(rows), pairs, rule)
        assert np.array_equal(keep, expect) and (~keep).sum() >= 60


# --------------------------------------------------------------------------- quantile normalization
def with_ties(n=40, g=60, seed=0):
    rng = np.random.default_rng(seed)
    return np.round(rng.gamma(2.0, 2.0, (n, g)), 0).astype(np.float32)  # many ties per profile


def test_quantile_reference_is_mean_of_sorted_profiles():
    V = with_ties(seed=1)
    ref = quantile_reference(V, chunk=7)
    assert np.allclose(ref, np.sort(V, axis=1).mean(axis=0))
    assert np.allclose(quantile_reference(iter([V[:10], V[10:]])), ref)


def test_average_ties_get_mean_reference_over_their_ranks():
    V = with_ties(seed=2)
    ref = np.sort(np.random.default_rng(0).normal(8, 2, V.shape[1]))
    out = map_to_reference(V, ref, "average", chunk=9)
    cum = np.concatenate([[0], np.cumsum(ref)])
    for r in range(len(V)):
        lo = rankdata(V[r], "min").astype(int) - 1
        hi = rankdata(V[r], "max").astype(int)
        assert np.allclose(out[r], (cum[hi] - cum[lo]) / (hi - lo), atol=1e-5)


def test_original_rnaseq_ties_match_gtex_reqnorm():
    V = with_ties(seed=3)
    ref = np.sort(np.random.default_rng(1).normal(8, 2, V.shape[1]))
    out = map_to_reference(V, ref, "original", chunk=16)
    n = V.shape[1]
    for r in range(len(V)):  # GTEx_reqnorm.py, per profile
        uniq = np.unique(V[r]).tolist()
        rank = np.array([uniq.index(v) for v in V[r]])
        expect = ref[((rank + 1.0) / len(uniq) * n).astype(int) - 1]
        assert np.array_equal(out[r], expect.astype(np.float32))


def test_original_microarray_ties_match_bgedv2_reqnorm():
    V = with_ties(seed=4)
    ref = np.sort(np.random.default_rng(2).normal(8, 2, V.shape[1]))
    out = map_to_reference(V, ref, "original", microarray=True)
    for r in range(len(V)):  # bgedv2_reqnorm.py: quantile[(rankdata - 1).astype(int)]
        assert np.array_equal(out[r], ref[(rankdata(V[r]) - 1).astype(int)].astype(np.float32))


def test_without_ties_every_rule_is_the_plain_rank_map():
    V = np.random.default_rng(5).normal(8, 2, (20, 50)).astype(np.float32)
    ref = np.sort(np.random.default_rng(6).normal(0, 1, 50))
    expect = ref[np.argsort(np.argsort(V, axis=1), axis=1)].astype(np.float32)
    for ties, micro in [("average", False), ("original", True)]:
        assert np.allclose(map_to_reference(V, ref, ties, microarray=micro), expect)
    # GTEx_reqnorm.py's int((r + 1) / u * n) - 1 truncates float rounding: even without ties a rank can drop by one
    orig = map_to_reference(V, ref, "original")
    ranks = np.searchsorted(ref.astype(np.float32), orig)
    assert (ranks - np.argsort(np.argsort(V, axis=1), axis=1) <= 0).all() and np.isin(orig, expect).all()


def special_values(n=30, g=41, seed=12):
    """Profiles with ties, -0.0 beside 0.0, infinities, NaN (as the function gets them; the workflow rejects NaN earlier)."""
    rng = np.random.default_rng(seed)
    V = np.round(rng.normal(0, 2, (n, g)), 1).astype(np.float32)  # many ties, zeros among them
    V[0, :5] = [-0.0, 0.0, -0.0, np.inf, -np.inf]
    V[1, [3, 9, 10]] = np.nan
    V[2] = 7.0  # one run over the whole profile
    V[3, :4] = [np.inf, np.inf, np.nan, -np.inf]
    V[4] = rng.normal(0, 1, g)  # no ties
    V[5, :3] = [1e-45, -1e-45, 0.0]  # subnormals
    return V


def test_argsort_rows_is_numpys_stable_argsort():
    V = special_values()
    assert np.array_equal(argsort_rows(V)[0], np.argsort(V, axis=1, kind="stable"))


def straightforward_map(V, ref, ties, microarray):
    """Per profile: stable ranks, runs of equal values (each NaN its own), then the rule (bgedv2/GTEx_reqnorm.py)."""
    n = V.shape[1]
    cum = np.concatenate([[0.0], np.cumsum(ref)])
    out = np.empty(V.shape, dtype=np.float32)
    for r, row in enumerate(V):
        order = np.argsort(row, kind="stable")
        srt = row[order]
        starts = [p for p in range(n) if p == 0 or not srt[p] == srt[p - 1]]
        bounds = list(zip(starts, starts[1:] + [n]))
        for dense, (a, b) in enumerate(bounds):
            if ties == "average":
                v = (cum[b] - cum[a]) / (b - a)
            elif microarray:
                v = ref[(a + b - 1) // 2]
            else:
                v = ref[int((dense + 1.0) / len(bounds) * n) - 1]
            out[r, order[a:b]] = np.float32(v)
    return out


def test_rank_mapping_equals_a_straightforward_loop_bit_for_bit():
    V = special_values()
    ref = np.sort(np.random.default_rng(13).normal(8, 2, V.shape[1]))
    for ties, micro in [("average", False), ("average", True), ("original", True), ("original", False)]:
        expect = straightforward_map(V, ref, ties, micro)
        for chunk in [1, 7, 128]:  # block boundaries inside and beyond the profiles
            assert map_to_reference(V, ref, ties, chunk=chunk, microarray=micro).tobytes() == expect.tobytes()
        assert map_to_reference(V.astype(np.float64), ref, ties, microarray=micro).tobytes() == expect.tobytes()


def test_standardize_equals_float64_arithmetic_bit_for_bit():
    rng = np.random.default_rng(14)
    V = rng.normal(8, 2, (300, 17)).astype(np.float32)
    mean, std = rng.normal(8, 1, 17), rng.uniform(0.5, 2, 17)
    for chunk in [1, 128, 1000]:
        assert standardize(V, mean, std, chunk).tobytes() == ((V - mean) / std).astype(np.float32).tobytes()


def test_quantile_normalization_rejects_bad_settings():
    with pytest.raises(ValueError, match="ties must be one of"):
        map_to_reference(np.zeros((2, 3), np.float32), np.arange(3.0), "dense")
    with pytest.raises(ValueError, match="reference has 4 values but profiles have 3 genes"):
        map_to_reference(np.zeros((2, 3), np.float32), np.arange(4.0))


# --------------------------------------------------------------------------- standardization
def test_gene_stats_match_numpy_with_large_offsets():
    rng = np.random.default_rng(7)
    V = (1000.0 + rng.normal(0, 0.05, (3000, 5))).astype(np.float32)
    mean, std = gene_stats(V, chunk=256)
    V64 = V.astype(np.float64)
    assert np.allclose(mean, V64.mean(axis=0), rtol=0, atol=1e-9)
    assert np.allclose(std, V64.std(axis=0) + 1e-3, rtol=1e-6)
    m2, s2 = gene_stats(iter([V[:1000], V[1000:]]))
    assert np.allclose(m2, mean) and np.allclose(s2, std)
    Z = standardize(V, mean, std, chunk=100)
    assert Z.dtype == np.float32 and np.allclose(Z, (V64 - mean) / std, atol=1e-4)


# --------------------------------------------------------------------------- gene matrices
def tiny_maps():
    lm = GeneMap(["A", "B"], ["ENSG01", "ENSG02"], [["p1"], ["p2"]])
    tg = GeneMap(["C", "B2", "D"], ["ENSG03", "ENSG02", "ENSGR04"], [["p3", "p4"], ["p5"], ["p6"]])
    return lm, tg


def test_probe_means_and_shared_ensembl_policy():
    lm, tg = tiny_maps()
    probes = ["p1", "p2", "p3", "p4", "p5", "p6", "extra"]
    V = np.arange(21, dtype=np.float32).reshape(3, 7)
    m = microarray_genes([(0, V[:2]), (2, V[2:])], probes, ["s1", "s2", "s3"], lm, tg, "geo.gctx")
    assert m.genes == ["ENSG01", "ENSG02", "ENSG03", "ENSG02", "ENSGR04"] and m.n_landmarks == 2
    assert np.allclose(m.values[:, 2], V[:, 2:4].mean(axis=1)) and np.allclose(m.values[:, 3], V[:, 4])  # own probes
    assert select_targets(lm, tg, "drop").ensembl == ["ENSG03", "ENSGR04"]
    with pytest.raises(InputError, match=r"geo\.gctx: 1 probe\(s\) of the gene maps are missing, e.g. \['p6'\]"):
        microarray_genes([(0, V[:, :5])], probes[:5], ["s1", "s2", "s3"], lm, tg, "geo.gctx")


def test_rnaseq_versions_duplicates_and_missing_genes():
    lm, tg = tiny_maps()
    assert strip_version(["ENSG01.3", "ENSGR04.12", "ENSG05.2_PAR_Y", "other"]) == ["ENSG01", "ENSGR04", "ENSG05_PAR_Y", "other"]
    rids = ["ENSG01.1", "ENSG02.4", "ENSG03.2", "ENSGR04.1", "ENSG03.7", "ENSG09.1", "ENSG09.2"]
    V = np.array([[1, 3, 7, 15, 1, 0, 0], [0, 1, 3, 0, 3, 2, 2]], dtype=np.float32)
    g = Gct(V, rids, ["x", "y"])
    first = rnaseq_genes(g, lm, tg, "gtex.gctx", duplicates="first")  # ENSG09 is duplicated too, but not wanted
    assert np.allclose(first.values, np.log2(V[:, [0, 1, 2, 1, 3]] + 1))  # the shared id gets the landmark's row
    mean = rnaseq_genes(g, lm, tg, "gtex.gctx", duplicates="mean")
    assert np.allclose(mean.values[:, 2], np.log2(V[:, [2, 4]].mean(axis=1) + 1))
    with pytest.raises(InputError, match=r"gtex\.gctx: 1 landmark/target Ensembl id\(s\) occur on several rows.*ENSG03"):
        rnaseq_genes(g, lm, tg, "gtex.gctx", duplicates="error")
    with pytest.raises(InputError, match=r"gtex\.gctx: 1 of 4 landmark/target gene\(s\) are missing, e.g. \['ENSGR04'\]"):
        rnaseq_genes(Gct(V[:, :3], rids[:3], ["x", "y"]), lm, tg, "gtex.gctx")


def test_real_gpl96_gene_matrix_from_the_real_maps():
    path = shared_file("gpl96", "gpl96_3cohorts_n240x22283.gctx")
    lm = read_gene_map(shared_file("dgex", "map_lm.txt"))
    tg = read_gene_map(shared_file("dgex", "map_tg.txt"))
    assert (len(lm), len(tg), len(set(lm.ensembl) & set(tg.ensembl))) == (943, 9520, 445)
    probes, samples = read_gctx_ids(path)
    m = microarray_genes(iter_gctx_profiles(path, 100), probes, samples, lm, tg, str(path))
    assert m.values.shape == (240, 10463) and m.n_landmarks == 943
    raw = read_gct(path)
    j = next(i for i, ps in enumerate(tg.probes) if len(ps) >= 3)
    cols = [raw.rids.index(p) for p in tg.probes[j]]
    assert np.allclose(m.values[:, 943 + j], raw.values[:, cols].mean(axis=1), atol=1e-5)


# --------------------------------------------------------------------------- block-wise matrix reading
def test_gather_reorders_and_transforms_block_by_block(tmp_path):
    V = np.random.default_rng(8).normal(size=(50, 6)).astype(np.float32)
    save_matrix(tmp_path / "m.h5", Matrix(V, [f"s{i}" for i in range(50)], list("abcdef"), 2))
    want = [f"s{i}" for i in [41, 3, 17, 0, 49]]
    m = gather(tmp_path / "m.h5", want, "test", transform=lambda v: 2 * v)
    assert m.samples == want and np.allclose(m.values, 2 * V[[41, 3, 17, 0, 49]]) and m.n_landmarks == 2
    got = np.concatenate([v for _, v in iter_blocks(tmp_path / "m.h5", [5, 30, 31], block=8)])
    assert np.array_equal(got, V[[5, 30, 31]])
    with pytest.raises(InputError, match=r"m\.h5: 1 sample\(s\) of test are missing, e.g. \['nope'\]"):
        gather(tmp_path / "m.h5", ["s1", "nope"], "test")


def test_blocks_read_into_a_reused_buffer_hold_the_same_values(tmp_path):
    V = np.random.default_rng(15).normal(size=(50, 6)).astype(np.float32)
    save_matrix(tmp_path / "m.h5", Matrix(V, [f"s{i}" for i in range(50)], list("abcdef"), 2))
    for rows in [None, [5, 30, 31, 49]]:
        fresh = [(i.copy(), v.copy()) for i, v in iter_blocks(tmp_path / "m.h5", rows, block=8)]
        reused = [(i.copy(), v.copy()) for i, v in iter_blocks(tmp_path / "m.h5", rows, block=8, reuse=True)]
        assert len(fresh) == len(reused) and all(np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
                                                 for a, b in zip(fresh, reused))
    X = compendium(n_unique=90, n_dup=10, d=20, seed=16)
    write_gct(tmp_path / "c.gctx", Gct(X, [f"p{i}" for i in range(20)], [f"GSM{i}" for i in range(len(X))]))
    got = np.concatenate([b.copy() for _, b in iter_gctx_profiles(tmp_path / "c.gctx", 32, reuse=True)])
    assert np.array_equal(got, X)  # 102 profiles: a partial last block in the shared buffer
