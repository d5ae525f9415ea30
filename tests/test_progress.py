"""Progress of long stages: rate and time-left text, throttled log lines, the final line, the terminal bar."""
import io
import logging

import numpy as np

from dgex.dedup import ArraySource, deduplicate
from dgex.genes import microarray_genes
from dgex.sources import GeneMap
from dgex.progress import Progress, clock_text


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_line_has_done_total_rate_and_time_left():
    clock = Clock()
    p = Progress("quantile normalization of geo", 111_009, clock=clock, unit=" profiles", log=logging.getLogger("t"))
    clock.now += 20
    p.update(4_000)
    assert p.line() == "quantile normalization of geo: 4,000/111,009 profiles (3.6%), 200 profiles/s, left 0:08:55"
    p.update(107_009)
    assert p.line().endswith("111,009/111,009 profiles (100.0%), 5,550 profiles/s, took 0:00:20")
    assert clock_text(3 * 3600 + 62) == "3:01:02" and clock_text(float("inf")) == "--:--:--"


def test_log_lines_are_throttled_and_the_final_line_always_comes(caplog):
    clock = Clock()
    p = Progress("dedup k-means labels", 1000, clock=clock, every=5.0, unit=" profiles", log=logging.getLogger("dgex.t"))
    with caplog.at_level(logging.INFO, logger="dgex.t"):
        for _ in range(9):  # 9 blocks of 100 profiles, 1 s apart: one line, at 5 s
            clock.now += 1.0
            p.update(100)
        clock.now += 0.5
        p.update(100)  # 0.5 s after the last line at 9.5 s: throttled
        p.close()  # the final line
        p.close()  # once only
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2, lines
    assert lines[0].startswith("dedup k-means labels: 500/1,000 profiles (50.0%), 100 profiles/s, left 0:00:05")
    assert "1,000/1,000 profiles (100.0%)" in lines[-1] and "took 0:00:10" in lines[-1]  # 9.5 s, rounded


def test_no_second_final_line_when_the_last_update_showed_it(caplog):
    clock = Clock()
    p = Progress("standardization of geo", 10, clock=clock, every=5.0, log=logging.getLogger("dgex.t"))
    with caplog.at_level(logging.INFO, logger="dgex.t"):
        clock.now += 6
        p.update(10)
        p.close()
    assert len(caplog.records) == 1 and "took 0:00:06" in caplog.records[0].getMessage()


def test_a_fast_stage_still_logs_its_final_line(caplog):
    with caplog.at_level(logging.INFO, logger="dgex.t"):
        p = Progress("split geo_te", 30, log=logging.getLogger("dgex.t"), unit=" profiles")
        p.update(30)
        p.close()
    assert [r.getMessage().split(",")[0] for r in caplog.records] == ["split geo_te: 30/30 profiles (100.0%)"]


def test_terminal_bar_without_a_logger_and_silence_elsewhere():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    out, clock = Tty(), Clock()
    p = Progress("geo.gctx", 2_000_000, stream=out, clock=clock, fmt=lambda n: f"{n / 1e6:.1f} MB")
    clock.now += 1
    p.update(500_000)
    p.close()
    assert out.getvalue() == ("\rgeo.gctx: [######                  ] 0.5 MB/2.0 MB (25.0%), 0.5 MB/s, left 0:00:03"
                              "\rgeo.gctx: [######                  ] 0.5 MB/2.0 MB (25.0%), 0.5 MB/s, left 0:00:03\n")
    quiet = io.StringIO()
    p = Progress("x", 10, stream=quiet)
    p.update(10)
    p.close()
    assert quiet.getvalue() == "" and not p.enabled
    assert Progress("x", None, clock=Clock()).line() == "x: 0, 0/s"  # unknown total: amount and rate only


def test_preprocessing_stages_log_progress(caplog):
    """Deduplication (every pass, the verification of candidates) and the probe means report profiles done, rate, time."""
    rng = np.random.default_rng(0)
    X = rng.normal(8, 2, (300, 12)).astype(np.float32)
    X[150:] = X[:150] + rng.normal(0, 0.01, (150, 12))  # near-copies in every block: verification reads them all
    with caplog.at_level(logging.INFO, logger="dgex"):
        deduplicate(ArraySource(X, block_rows=64), n_clusters=4, epochs=2)
        lm = GeneMap(["A"], ["ENSG01"], [["p0", "p1"]])
        tg = GeneMap(["B"], ["ENSG02"], [["p2"]])
        microarray_genes(((s, X[s : s + 64]) for s in range(0, 300, 64)), [f"p{i}" for i in range(12)],
                         [f"s{i}" for i in range(300)], lm, tg, "geo.gctx")
    final = [r.getMessage() for r in caplog.records if "took" in r.getMessage()]
    stages = [m.split(":")[0] for m in final]
    assert stages[:4] == ["dedup k-means++ sample", "dedup k-means epoch 1/2", "dedup k-means epoch 2/2", "dedup k-means labels"]
    assert stages[4].startswith("dedup verification 1/1 (") and "candidate pairs of" in stages[4]
    assert stages[-1] == "probe means of geo.gctx"
    assert all("300/300 profiles (100.0%)" in m and "profiles/s" in m for m in final)
