"""Downloads against a real HTTP server on 127.0.0.1: resume, retries, checksums, HTML pages, mirrors, offline errors."""
from __future__ import annotations

import hashlib
import io
import shutil
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers import REPO, run_snakemake, shared_file, write_config
from dgex.download import DownloadError, Progress, Source, fetch
from dgex.gctx import HDF5_MAGIC

PAYLOAD = HDF5_MAGIC + np.random.default_rng(0).bytes(300_000)  # served as geo.gctx: starts as HDF5 does
SHA = hashlib.sha256(PAYLOAD).hexdigest()


class Handler(BaseHTTPRequestHandler):
    """Serves PAYLOAD with Range support; paths choose a behaviour; every request's Range header is recorded."""

    requests: list[tuple[str, str | None]] = []
    flaky_left = 0

    def log_message(self, *args):  # keep pytest output clean
        pass

    def do_GET(self):
        Handler.requests.append((self.path, self.headers.get("Range")))
        if self.path == "/missing.gctx":
            return self._send(404, b"<html><body>Not Found</body></html>", "text/html")
        if self.path == "/error.gctx":  # an HTML error page served with status 200
            return self._send(200, b"<!DOCTYPE html>\n<html><body>Service unavailable</body></html>", "text/html; charset=utf-8")
        if self.path == "/busy.gctx" and Handler.flaky_left > 0:
            Handler.flaky_left -= 1
            return self._send(503, b"busy", "text/plain")
        start = 0
        rng = self.headers.get("Range")
        if rng and self.path != "/norange.gctx":
            start = int(rng.split("=")[1].split("-")[0])
            if start >= len(PAYLOAD):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(PAYLOAD)}")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(PAYLOAD) - 1}/{len(PAYLOAD)}")
        else:
            self.send_response(200)
        body = PAYLOAD[start:]
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.path == "/cut.gctx" and Handler.flaky_left > 0:  # the connection drops after a third of the bytes
            Handler.flaky_left -= 1
            self.wfile.write(body[: len(body) // 3])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(body)

    def _send(self, code: int, body: bytes, ctype: str):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def server():
    """A real HTTP server on 127.0.0.1 (a free port), stopped after the test."""
    Handler.requests, Handler.flaky_left = [], 0
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def closed_port_url() -> str:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    return f"http://127.0.0.1:{port}/geo.gctx"


def no_sleep(_: float) -> None:
    pass


def test_download_verifies_sha256_and_leaves_no_part(server, tmp_path):
    dest = tmp_path / "d" / "geo.gctx"
    rec = fetch(Source("geo", f"{server}/data.gctx", "geo.gctx", SHA), dest, sleep=no_sleep)
    assert dest.read_bytes() == PAYLOAD and rec["sha256"] == SHA and rec["sha256_verified"]
    assert not any(p.name.endswith(".part") for p in dest.parent.iterdir())


def test_sha256_recorded_when_not_configured(server, tmp_path):
    rec = fetch(Source("geo", f"{server}/data.gctx", "geo.gctx"), tmp_path / "geo.gctx", sleep=no_sleep)
    assert rec["sha256"] == SHA and not rec["sha256_verified"] and rec["bytes"] == len(PAYLOAD)


def test_interrupted_transfer_resumes_with_range(server, tmp_path):
    Handler.flaky_left = 2
    waits = []
    dest = tmp_path / "geo.gctx"
    fetch(Source("geo", f"{server}/cut.gctx", "geo.gctx", SHA), dest, retries=3, backoff=0.5, sleep=waits.append)
    assert dest.read_bytes() == PAYLOAD
    ranges = [r for p, r in Handler.requests]
    assert ranges[0] is None and ranges[1] == f"bytes={len(PAYLOAD) // 3}-"  # the second request resumes, not restarts
    assert len(ranges) == 3 and waits == [0.5, 1.0]  # exponential back-off


def test_failed_run_keeps_part_and_next_run_resumes(server, tmp_path):
    Handler.flaky_left = 1
    dest = tmp_path / "geo.gctx"
    src = Source("geo", f"{server}/cut.gctx", "geo.gctx", SHA)
    with pytest.raises(DownloadError, match="could not download"):
        fetch(src, dest, retries=0, sleep=no_sleep)
    part = tmp_path / "geo.gctx.part"
    assert not dest.exists() and part.exists() and 0 < part.stat().st_size < len(PAYLOAD)
    fetch(src, dest, retries=0, sleep=no_sleep)
    assert dest.read_bytes() == PAYLOAD and not part.exists()
    assert Handler.requests[-1][1] == f"bytes={len(PAYLOAD) // 3}-"


def test_complete_part_file_is_not_downloaded_again(server, tmp_path):
    (tmp_path / "geo.gctx.part").write_bytes(PAYLOAD)
    fetch(Source("geo", f"{server}/data.gctx", "geo.gctx", SHA), tmp_path / "geo.gctx", sleep=no_sleep)
    assert (tmp_path / "geo.gctx").read_bytes() == PAYLOAD and Handler.requests == [("/data.gctx", f"bytes={len(PAYLOAD)}-")]


def test_server_without_range_support_restarts_cleanly(server, tmp_path):
    (tmp_path / "geo.gctx.part").write_bytes(b"stale bytes")
    fetch(Source("geo", f"{server}/norange.gctx", "geo.gctx", SHA), tmp_path / "geo.gctx", sleep=no_sleep)
    assert (tmp_path / "geo.gctx").read_bytes() == PAYLOAD


def test_retries_transient_server_errors(server, tmp_path):
    Handler.flaky_left = 2
    fetch(Source("geo", f"{server}/busy.gctx", "geo.gctx", SHA), tmp_path / "geo.gctx", retries=2, sleep=no_sleep)
    assert (tmp_path / "geo.gctx").read_bytes() == PAYLOAD and len(Handler.requests) == 3


def test_wrong_checksum_fails_and_leaves_nothing(server, tmp_path):
    dest = tmp_path / "geo.gctx"
    with pytest.raises(DownloadError, match=r"geo\.gctx: sha256 mismatch.*expected 0{64}, got " + SHA):
        fetch(Source("geo", f"{server}/data.gctx", "geo.gctx", "0" * 64), dest, sleep=no_sleep)
    assert list(tmp_path.iterdir()) == []


def test_html_error_page_is_refused(server, tmp_path):
    with pytest.raises(DownloadError, match=r"geo\.gctx: .*/error\.gctx served an HTML page instead of the data file"):
        fetch(Source("geo", f"{server}/error.gctx", "geo.gctx"), tmp_path / "geo.gctx", sleep=no_sleep)
    assert not (tmp_path / "geo.gctx").exists()


def test_http_404_names_file_url_and_mirror(server, tmp_path):
    with pytest.raises(DownloadError, match=r"geo\.gctx: .*/missing\.gctx answered HTTP 404.*data\.download\.mirror"):
        fetch(Source("geo", f"{server}/missing.gctx", "geo.gctx"), tmp_path / "geo.gctx", retries=3, sleep=no_sleep)
    assert len(Handler.requests) == 1  # a 404 is not retried


def test_offline_without_mirror_is_a_clear_error(tmp_path):
    url = closed_port_url()
    with pytest.raises(DownloadError) as err:
        fetch(Source("geo", url, "geo.gctx"), tmp_path / "geo.gctx", retries=1, sleep=no_sleep)
    msg = str(err.value)
    assert "geo.gctx" in msg and url in msg and "data.download.mirror" in msg and "after 2 attempt(s)" in msg
    assert not (tmp_path / "geo.gctx").exists()


def test_mirror_is_used_before_the_url(tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "geo.gctx").write_bytes(PAYLOAD)
    rec = fetch(Source("geo", closed_port_url(), "geo.gctx", SHA), tmp_path / "out" / "geo.gctx", [tmp_path / "empty", mirror])
    assert (tmp_path / "out" / "geo.gctx").read_bytes() == PAYLOAD and rec["origin"] == str(mirror / "geo.gctx")


def test_real_gene_maps_from_mirror_match_configured_sha256(tmp_path):
    import yaml

    mirror = shared_file("dgex", "map_lm.txt").parent
    cfg = yaml.safe_load((REPO / "config.yaml").read_text())["data"]["download"]["sources"]
    for name in ["map_lm", "map_tg"]:
        s = cfg[name]
        rec = fetch(Source(name, s["url"], s["filename"], s["sha256"]), tmp_path / s["filename"], [mirror])
        assert rec["sha256_verified"]


def test_progress_bar_line():
    p = Progress("geo.gctx", 2_000_000, stream=io.StringIO())
    p.update(500_000)
    line = p.line()
    assert "geo.gctx" in line and "25.0%" in line and "500.0 kB/2.0 MB" in line and "/s" in line and "left" in line
    assert not p.enabled  # not a terminal: nothing printed


def synthetic_rnaseq(tmp_path: Path, lm_path: Path, tg_path: Path) -> None:
    """Small GTEx (GCTX) and Geuvadis (gzipped table) files in the real formats, keyed by the real maps' Ensembl ids."""
    from dgex.gctx import Gct, write_gct
    from dgex.sources import read_gene_map, write_g1000

    ens = sorted(set(read_gene_map(lm_path).ensembl) | set(read_gene_map(tg_path).ensembl)) + ["ENSG00000999999"]
    rng = np.random.default_rng(1)
    ids = [f"{e}.{i % 7 + 1}" for i, e in enumerate(ens)]
    gtex = rng.gamma(1.0, 8.0, (12, len(ids))).astype(np.float32)
    write_gct(tmp_path / "GTEx_RNASeq_RPKM_n2921x55993.gctx", Gct(gtex, ids, [f"GTEX-{i:04d}" for i in range(12)]))
    g = Gct(rng.gamma(1.0, 8.0, (10, len(ids))).astype(np.float32), ids, [f"HG{i:05d}" for i in range(10)])
    write_g1000(tmp_path / "GD462.GeneQuantRPKM.50FN.samplename.resk10.txt.gz", g, ["S"] * len(ids), ["1"] * len(ids),
                [1] * len(ids))


@pytest.mark.slow
def test_workflow_preprocesses_real_gpl96_and_maps_from_a_mirror(tmp_path):
    """data.source: download with mirrors (the real GPL96 compendium as GEO, the real maps), every URL unreachable."""
    gpl96 = shared_file("gpl96", "gpl96_3cohorts_n240x22283.gctx")
    lm = shared_file("dgex", "map_lm.txt")
    rnaseq = tmp_path / "rnaseq"
    rnaseq.mkdir()
    synthetic_rnaseq(rnaseq, lm, lm.parent / "map_tg.txt")
    dead = closed_port_url()
    work = tmp_path / "work"
    write_config(work, {
        "data": {"source": "download", "rnaseq": True,
                 "download": {"dir": "dl", "mirror": [str(gpl96.parent), str(lm.parent), str(rnaseq)], "retries": 0,
                              "sources": {"geo": {"url": dead, "filename": gpl96.name},
                                          "gtex": {"url": dead}, "g1000": {"url": dead}}}},
        "dedup": {"n_clusters": 3}})
    R = work / "results" / "tiny"
    targets = [f"results/tiny/splits/{s}.h5" for s in ["geo_tr", "geo_va", "geo_te", "g1000_va", "gtex_te"]]
    run_snakemake(work, *targets)
    prov = pd.read_json(work / "dl" / f"{gpl96.name}.prov.json", typ="series")
    assert list(prov["outputs"].values())[0] == hashlib.sha256(gpl96.read_bytes()).hexdigest()
    from dgex.matrix import load_matrix

    tr = load_matrix(R / "splits" / "geo_tr.h5")
    assert tr.n_landmarks == 943 and len(tr.targets) == 9520  # the paper's gene lists, 445 shared ids kept
    kept = pd.read_csv(R / "dedup" / "geo_profiles.tsv", sep="\t")
    sizes = {s: len(load_matrix(R / "splits" / f"{s}.h5").samples) for s in ["geo_tr", "geo_va", "geo_te"]}
    assert sum(sizes.values()) == kept["kept"].sum() and len(kept) == 240 and sizes["geo_va"] == sizes["geo_te"]
    gtex = load_matrix(R / "splits" / "gtex_te.h5")
    assert gtex.values.shape == (12, 10463) and gtex.genes == tr.genes
    # GEO-tr is standardized with its own statistics: mean 0 per gene
    assert np.abs(tr.values.mean(axis=0)).max() < 1e-3


@pytest.mark.parametrize("filename, content, expected", [
    ("geo.gctx", b"<!DOCTYPE html>\n<html><body>Moved</body></html>\n", "a GCTX file (HDF5 signature), found an HTML page"),
    ("g1000.txt.gz", b"TargetID\tGene_Symbol\n", "gzip data (magic bytes 1f 8b)"),
    ("map_lm.txt", b"<html><head><title>Login</title></head></html>\n", "tab-separated text, found an HTML page"),
    ("map_tg.txt", b"\x89HDF\r\n\x1a\n\x00\x00", "tab-separated text"),
])
def test_mirror_file_of_the_wrong_kind_is_refused_before_it_is_copied(tmp_path, filename, content, expected):
    """An HTML page (or other wrong bytes) in the mirror with no sha256 configured: named, never copied nor recorded."""
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / filename).write_bytes(content)
    out = tmp_path / "dl"
    with pytest.raises(DownloadError) as err:
        fetch(Source("src", closed_port_url(), filename), out / filename, [mirror], retries=0, sleep=no_sleep)
    msg = str(err.value)
    assert str(mirror / filename) in msg and expected in msg and "data.download.sources.src" in msg, msg
    assert list(out.iterdir()) == []  # no copy, no .part, nothing recorded
    assert (mirror / filename).read_bytes() == content  # the user's file is left alone


def test_server_answering_other_bytes_than_the_format_is_refused(server, tmp_path):
    # PAYLOAD starts as HDF5 does: served as a gene map (text), it is refused before anything is kept
    with pytest.raises(DownloadError, match=r"map_lm\.txt: .*/data\.gctx served another file instead of the data file.*"
                                            r"expected tab-separated text"):
        fetch(Source("map_lm", f"{server}/data.gctx", "map_lm.txt"), tmp_path / "map_lm.txt", sleep=no_sleep)
    assert list(tmp_path.iterdir()) == []


def mirror_config(**download) -> dict:
    """A tiny config with data.source: download into dl/ (no retries), plus data.download settings."""
    return {"data": {"source": "download", "download": {"dir": "dl", "retries": 0} | download}}


@pytest.mark.slow
@pytest.mark.parametrize("folder, mirror, how", [("m", "m", "is"), ("m/dl", "m", "lies inside"), ("d", "d/m", "contains")])
def test_download_folder_overlapping_a_mirror_is_refused_at_dag_time(tmp_path, folder, mirror, how):
    """A forced rerun deletes a download's output first: if that is the user's mirror file, it is lost; so refuse the config."""
    (tmp_path / mirror).mkdir(parents=True)
    (tmp_path / mirror / "map_lm.txt").write_text("A\tENSG1\tp1\n")
    write_config(tmp_path, mirror_config(mirror=mirror, dir=folder))
    proc = run_snakemake(tmp_path, "-n", "--forceall", f"{folder}/map_lm.txt", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and f"data.download.dir {folder!r}" in out and f"{how} the mirror folder {mirror!r}" in out, out
    assert (tmp_path / mirror / "map_lm.txt").read_text() == "A\tENSG1\tp1\n"


@pytest.mark.slow
def test_transport_settings_rerun_nothing(tmp_path):
    """data.download.timeout_s, retries and mirror say how a file is fetched, not what it is: editing them reruns nothing."""
    maps = shared_file("dgex", "map_lm.txt").parent
    other = tmp_path / "other_mirror"
    shutil.copytree(maps, other)
    targets = ["dl/map_lm.txt", "dl/map_tg.txt"]
    write_config(tmp_path, mirror_config(mirror=str(maps)))
    run_snakemake(tmp_path, *targets)

    def changed_after(**edit) -> tuple[set[str], str]:
        """Files --list-changes params adds after the edit (Snakemake 9 also lists unchanged jobs), and the dry run."""
        listed = lambda: set(run_snakemake(tmp_path, "--list-changes", "params", *targets).stdout.split())  # noqa: E731
        before = listed()
        write_config(tmp_path, mirror_config(**({"mirror": str(maps)} | edit)))
        dry = run_snakemake(tmp_path, "-n", *targets)
        return listed() - before, dry.stdout + dry.stderr

    for edit in ({"timeout_s": 5}, {"retries": 7}, {"mirror": [str(other)]}):
        changed, dry = changed_after(**edit)
        assert not changed and "Nothing to be done" in dry, (edit, changed, dry[-2000:])
    # a content setting still reruns the download it belongs to, and only that one
    changed, dry = changed_after(sources={"map_lm": {"url": "https://example.org/map_lm.txt"}})
    assert changed and all(c.startswith("dl/map_lm.txt") for c in changed), changed
    assert "download_map_lm" in dry and "download_map_tg" not in dry, dry[-2000:]
