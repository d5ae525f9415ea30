"""GCT/GCTX reading and writing through cmapPy, atomic writes, gene maps and the Geuvadis table."""
import gzip

import numpy as np
import pandas as pd
import pytest
from pandas.api.types import is_numeric_dtype

from helpers import shared_file
from dgex.gctx import Gct, cmappy_compat, iter_gctx_profiles, read_gct, read_gctx_ids, sniff_format, write_gct
from dgex.io import InputError, atomic_path
from dgex.sources import GeneMap, read_g1000, read_gene_map, write_g1000, write_gene_map


def small_gct(n_rows=7, n_cols=5, seed=0) -> Gct:
    rng = np.random.default_rng(seed)
    rids = [f"{200000 + i}_at" for i in range(n_rows)]
    cids = [f"GSM{900 + j}" for j in range(n_cols)]
    return Gct(rng.uniform(4, 15, (n_cols, n_rows)).astype(np.float32), rids, cids,
               pd.DataFrame({"symbol": [f"G{i}" for i in range(n_rows)]}, index=pd.Index(rids)),
               pd.DataFrame({"cohort": ["a", "b", "a", "b", "c"][:n_cols]}, index=pd.Index(cids)))


def test_gctx_round_trip_through_cmappy(tmp_path):
    """cmapPy writes and reads GCTX under the pinned numpy 2 / pandas 3, values, ids and metadata intact."""
    from cmapPy.pandasGEXpress.parse import parse

    g = small_gct()
    g.row_meta["entrez"] = np.arange(len(g.rids)) + 100  # numeric metadata comes back numeric, strings stay strings
    path = tmp_path / "x.gctx"
    write_gct(path, g)
    assert sniff_format(path) == "gctx"
    back = read_gct(path)
    np.testing.assert_array_equal(back.values, g.values)
    assert back.rids == g.rids and back.cids == g.cids
    assert list(back.row_meta["symbol"]) == list(g.row_meta["symbol"])
    assert list(back.row_meta["entrez"]) == list(g.row_meta["entrez"]) and is_numeric_dtype(back.row_meta["entrez"])
    assert list(back.col_meta["cohort"]) == list(g.col_meta["cohort"])
    with cmappy_compat():
        raw = parse(str(path))  # cmapPy's own parser agrees: rows are probes, columns are profiles
    np.testing.assert_array_equal(raw.data_df.values, g.values.T)
    assert not list(tmp_path.glob(".tmp-*"))


def test_gct_text_round_trip_through_cmappy(tmp_path):
    """cmapPy's GCT text writer and parser (metadata through pd.to_numeric) under numpy 2 / pandas 3."""
    from cmapPy.pandasGEXpress import write_gct as cmappy_write_gct
    from cmapPy.pandasGEXpress.GCToo import GCToo

    g = small_gct()
    data = pd.DataFrame(g.values.T.astype(np.float64), index=pd.Index(g.rids, name="rid"), columns=pd.Index(g.cids, name="cid"))
    row_meta = g.row_meta.assign(entrez=np.arange(len(g.rids)) + 100).rename_axis(index="rid", columns="rhd")
    col_meta = g.col_meta.rename_axis(index="cid", columns="chd")
    with cmappy_compat():
        cmappy_write_gct.write(GCToo(data_df=data, row_metadata_df=row_meta, col_metadata_df=col_meta), str(tmp_path / "x.gct"))
    back = read_gct(tmp_path / "x.gct")
    np.testing.assert_allclose(back.values, g.values, atol=5e-5)  # cmapPy writes 4 decimals
    assert back.rids == g.rids and back.cids == g.cids
    assert list(back.row_meta["entrez"]) == list(row_meta["entrez"]) and is_numeric_dtype(back.row_meta["entrez"])
    assert list(back.col_meta["cohort"]) == list(g.col_meta["cohort"])


def test_cmappy_compat_is_scoped_and_keeps_pandas_2_semantics():
    """Inside the block: np.string_ is np.bytes_, to_numeric(errors='ignore') returns unparsable input as it was."""
    to_numeric, had_string = pd.to_numeric, "string_" in vars(np)
    with cmappy_compat():
        assert np.string_ is np.bytes_
        numbers = pd.to_numeric(pd.Series(["1", "2.5"]), errors="ignore")
        words = pd.Series(["1", "x"])
        assert numbers.tolist() == [1.0, 2.5] and pd.to_numeric(words, errors="ignore") is words
        with pytest.raises(ValueError):
            pd.to_numeric(words)
    assert pd.to_numeric is to_numeric and ("string_" in vars(np)) == had_string


def test_gctx_write_is_byte_reproducible(tmp_path):
    g = small_gct()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    write_gct(tmp_path / "a" / "x.gctx", g)
    write_gct(tmp_path / "b" / "x.gctx", g)
    assert (tmp_path / "a" / "x.gctx").read_bytes() == (tmp_path / "b" / "x.gctx").read_bytes()


def test_partial_reads_and_chunks(tmp_path):
    g = small_gct(n_cols=5)
    path = tmp_path / "x.gctx"
    write_gct(path, g)
    sub = read_gct(path, profiles=[3, 1])
    np.testing.assert_array_equal(sub.values, g.values[[3, 1]])
    assert sub.cids == [g.cids[3], g.cids[1]]
    blocks = list(iter_gctx_profiles(path, chunk=2))
    assert [s for s, _ in blocks] == [0, 2, 4]
    np.testing.assert_array_equal(np.concatenate([b for _, b in blocks]), g.values)
    assert read_gctx_ids(path) == (g.rids, g.cids)


def test_real_gpl96_compendium_reads():
    path = shared_file("gpl96", "gpl96_3cohorts_n240x22283.gctx")
    rids, cids = read_gctx_ids(path)
    assert (len(rids), len(cids)) == (22283, 240)
    g = read_gct(path, profiles=slice(0, 3))
    assert g.values.shape == (3, 22283) and g.values.dtype == np.float32
    assert "1007_s_at" in rids and np.isfinite(g.values).all()


def test_real_l1000_gct_text_with_gctx_name_is_read():
    """The real L1000 test file is GCT 1.3 text despite its .gctx name: the reader goes by content."""
    path = shared_file("l1000", "test_l1000.gctx")
    assert sniff_format(path) == "gct"
    g = read_gct(path, check_finite=False)
    assert g.values.shape == (377, 978)


def test_html_instead_of_gctx_is_named(tmp_path):
    path = tmp_path / "geo.gctx"
    path.write_text("<!DOCTYPE html><html><body>404 Not Found</body></html>")
    with pytest.raises(InputError, match=r"geo\.gctx.*HTML page"):
        read_gct(path)


def test_truncated_gctx_is_named(tmp_path):
    path = tmp_path / "x.gctx"
    write_gct(path, small_gct())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=r"x\.gctx"):
        read_gct(path)


def test_nan_and_duplicate_ids_are_rejected(tmp_path):
    g = small_gct()
    g.values[1, 2] = np.nan
    write_gct(tmp_path / "nan.gctx", g)
    with pytest.raises(InputError, match=r"nan\.gctx.*1 non-finite"):
        read_gct(tmp_path / "nan.gctx")


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    final = tmp_path / "out.tsv"
    final.write_text("finished before\n")
    with pytest.raises(RuntimeError):
        with atomic_path(final) as tmp:
            tmp.write_text("half")
            raise RuntimeError("writer died")
    assert final.read_text() == "finished before\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.tsv"]


def test_real_gene_maps():
    lm = read_gene_map(shared_file("dgex", "map_lm.txt"))
    tg = read_gene_map(shared_file("dgex", "map_tg.txt"))
    assert (len(lm), len(tg)) == (943, 9520)
    assert sum(len(p) for p in tg.probes) == 15744
    assert len(set(lm.ensembl) & set(tg.ensembl)) == 445


def test_gene_map_round_trip_and_bad_line(tmp_path):
    gm = GeneMap(["A", "B"], ["ENSG00000000001", "ENSG00000000002"], [["1_at"], ["2_at", "3_s_at"]])
    write_gene_map(tmp_path / "m.txt", gm)
    assert read_gene_map(tmp_path / "m.txt") == gm
    (tmp_path / "bad.txt").write_text("A\tENSG00000000001\n")
    with pytest.raises(InputError, match=r"bad\.txt:1"):
        read_gene_map(tmp_path / "bad.txt")


def test_g1000_table_round_trip(tmp_path):
    g = Gct(np.array([[0.0, 1.5, 20.25], [3.0, 0.5, 7.0]], np.float32),
            ["ENSG00000000001.3", "ENSG00000000002.1", "ENSG00000000003.9"],
            ["HG00096", "NA06984"])
    write_g1000(tmp_path / "g.txt.gz", g, ["A", "B", "C"], ["1", "2", "X"], [100, 200, 300])
    with gzip.open(tmp_path / "g.txt.gz", "rt") as fh:
        assert fh.readline().rstrip("\n").split("\t") == ["TargetID", "Gene_Symbol", "Chr", "Coord", "HG00096", "NA06984"]
    back = read_g1000(tmp_path / "g.txt.gz")
    np.testing.assert_allclose(back.values, g.values, atol=1e-4)
    assert back.rids == g.rids and back.cids == g.cids


def write_blocks(path, blocks, n_rows, **kw):
    """Profile blocks written through a BlockWriter (threaded or not) into a file of as many profiles as the blocks hold."""
    from dgex.gctx import BlockWriter, GctxWriter

    rids, n = [f"r{i}" for i in range(n_rows)], sum(len(b) for _, b in blocks)
    w = GctxWriter(path, rids, pd.DataFrame({"n": np.arange(n_rows)}), n, src="x.gctx")
    w.meta.create_group("COL").create_dataset("id", data=np.array([f"p{i}".encode() for i in range(n)]), track_times=False)
    try:
        with BlockWriter(w, (max(len(b) for _, b in blocks), n_rows), **kw) as bw:
            for start, block in blocks:
                buf = bw.buffer()
                buf[: len(block)] = block
                buf[len(block) :] = np.nan  # what is left of a reused buffer must never reach the file
                bw.submit(start, buf, len(block))
    finally:
        w.close()


def test_block_writer_thread_writes_the_serial_bytes(tmp_path):
    """Writing in a second thread (with a wait for the disk after every block) gives the same file as writing in line."""
    rng = np.random.default_rng(0)
    blocks = [(s, rng.normal(8, 2, (min(7, 30 - s), 11)).astype(np.float32)) for s in range(0, 30, 7)]
    write_blocks(tmp_path / "serial.gctx", blocks, 11, threaded=False)
    write_blocks(tmp_path / "thread.gctx", blocks, 11, threaded=True, sync_bytes=1)
    write_blocks(tmp_path / "deep.gctx", blocks, 11, threaded=True, depth=3)
    assert (tmp_path / "serial.gctx").read_bytes() == (tmp_path / "thread.gctx").read_bytes()
    assert (tmp_path / "serial.gctx").read_bytes() == (tmp_path / "deep.gctx").read_bytes()
    np.testing.assert_array_equal(read_gct(tmp_path / "thread.gctx").values, np.concatenate([b for _, b in blocks]))


def test_block_writer_thread_error_reaches_the_caller(tmp_path):
    """A block the file cannot take (running past its last profile) fails in the thread; the caller gets that error."""
    rng = np.random.default_rng(0)
    blocks = [(0, rng.normal(size=(4, 3)).astype(np.float32)), (14, rng.normal(size=(4, 3)).astype(np.float32)),
              (4, rng.normal(size=(4, 3)).astype(np.float32)), (8, rng.normal(size=(4, 3)).astype(np.float32))]
    with pytest.raises((ValueError, TypeError, OSError)) as err:
        write_blocks(tmp_path / "x.gctx", blocks, 3, threaded=True)
    assert any(f.name == "_write" for f in err.traceback)  # raised in the thread, not by the caller's own code
