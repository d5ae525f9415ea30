"""Full-size dress rehearsal of the paper's run: the whole DAG of configs/paper.yaml on synthetic sources of GEO, GTEx
and 1000 Genomes size in the real formats, with the grid cut to 1 x 3000 at 10 % dropout and 2 epochs.

Everything else is the preset's: download from a mirror folder, deduplication, quantile normalization, the four
baselines, every table and figure, the interpretation, the report, and inference of 100,000 synthetic L1000 profiles
(978 landmark probes, a chip file) through the selected model's bundle. Prints every job's wall time and peak RSS
(Snakemake's benchmark files), the whole run's wall time and peak RSS (all its processes together, sampled each second),
references measured in the same run (float32 GEMM rate, sequential disk read rate), the training FLOP rate, and an
estimate of the real run (27 architectures x 2 parts x 200 epochs) from it.

    flock /tmp/dgex-heavy.lock .venv/bin/python benchmarks/paper_dress_rehearsal.py            # full size: ~60 GB of disk
    .venv/bin/python benchmarks/paper_dress_rehearsal.py --profiles 6000 --l1000 5000 --baselines lr lr_l2 knn \
        --workdir /tmp/dgex-rehearsal-small                                                      # a quick check of the script
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow_scripts"))
sys.path.insert(0, str(REPO / "benchmarks"))
from dgex.architecture import Architecture, layer_sizes  # noqa: E402
from preprocess_full_scale import (cached_sources, drop_from_page_cache, make_sources, prepare_workdir, rss_gb,  # noqa: E402
                                   source_sizes)

RUN = "rehearsal"
FULL_PROFILES = 129_158
PAPER_GRID = [(layers, units) for layers in (1, 2, 3) for units in (3000, 6000, 9000)]
PAPER_DROPOUTS, PAPER_EPOCHS, GEO_TR = 3, 200, 88_807


def write_l1000(path: Path, chip_path: Path, landmark_map, geo_rids: list[str], n: int, seed: int = 2) -> None:
    """A chip (the model's 943 landmark probes + 35 more) and a Level-3-like GCTX of n profiles on its 978 landmark rows."""
    from dgex.gctx import GctxWriter
    from dgex.io import write_tsv
    from dgex.l1000 import demo_chip

    rng = np.random.default_rng(seed)
    used = {p for ps in landmark_map.probes for p in ps}
    others = [p for p in geo_rids if p not in used]
    extra = [others[i] for i in sorted(rng.choice(len(others), 978 - len(landmark_map), replace=False))]
    chip = demo_chip(landmark_map, extra, rng)
    write_tsv(chip_path, chip)
    lm = chip[chip["pr_type"] == "LM"]
    w = GctxWriter(path, lm["pr_id"].tolist(), pd.DataFrame({"pr_gene_symbol": lm["pr_gene_symbol"].to_numpy()}), n)
    for s in range(0, n, 20_000):
        w.write(s, rng.normal(8, 2, (min(20_000, n - s), len(lm))).astype(np.float32))
    col = w.meta.create_group("COL")
    col.create_dataset("id", data=np.array([f"SYN{i:07d}".encode() for i in range(n)]))
    col.create_dataset("cell_id", data=np.full(n, b"SYN"))
    w.close()


class TreeRss:
    """Peak resident memory of a process and all its descendants together, sampled every `period` seconds."""

    def __init__(self, pid: int, period: float = 1.0):
        self.root, self.period, self.peak, self._stop = psutil.Process(pid), period, 0, threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            total = 0
            try:
                for p in [self.root, *self.root.children(recursive=True)]:
                    try:
                        total += p.memory_info().rss
                    except psutil.Error:
                        pass
            except psutil.Error:
                return
            self.peak = max(self.peak, total)

    def stop(self) -> float:
        self._stop.set()
        self.thread.join()
        return self.peak / 2**30


def read_benchmarks(root: Path) -> pd.DataFrame:
    """One row per job from Snakemake's benchmark files: job, rule, wall s, peak RSS (GB)."""
    rows = []
    for tsv in sorted(root.rglob("*.tsv")):
        b = pd.read_csv(tsv, sep="\t").iloc[0]
        job = str(tsv.relative_to(root).with_suffix(""))
        rows.append({"job": job, "rule": job.split("/")[0], "wall_s": float(b["s"]), "peak_rss_gb": rss_gb(b["max_rss"])})
    return pd.DataFrame(rows)


def training_flops(n_in: int, n_out: int, units: int, layers: int, n_profiles: int, epochs: int) -> float:
    """Multiply-adds x 2 of forward and backward passes (3 matrix products per layer) for one network's training."""
    sizes = layer_sizes(n_in, n_out, Architecture(layers, units, 0.0))
    weights = sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
    return 6.0 * weights * n_profiles * epochs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profiles", type=int, default=FULL_PROFILES)
    ap.add_argument("--probes", type=int, default=22_268)
    ap.add_argument("--l1000", type=int, default=100_000, help="synthetic L1000 profiles to infer")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/dgex-rehearsal"))
    ap.add_argument("--sources", type=Path, help="a folder outside --workdir for the synthetic sources, reused by later runs")
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--gpu-tflops", type=float, default=50.0,
                    help="sustained float32 rate assumed for one modern GPU in the estimate (TFLOP/s)")
    ap.add_argument("--baselines", nargs="+", help="baseline methods to fit (default: the preset's four); fewer only for a "
                    "quick check of this script, never for the recorded figures")
    ap.add_argument("--keep", action="store_true", help="keep the generated sources and results")
    args = ap.parse_args()
    wd, src_dir, gf, disk = prepare_workdir(args.workdir, args.sources)
    from dgex.gctx import read_gctx_ids
    from dgex.sources import read_gene_map

    t = time.perf_counter()
    cached_sources(src_dir, source_sizes(args.profiles, args.probes), make_sources)
    mirror = wd / "mirror"  # the preset's filenames, as links to the synthetic files
    mirror.mkdir()
    names = {"geo_compendium.gctx": "bgedv2_QNORM.gctx"}
    for f in src_dir.iterdir():
        (mirror / names.get(f.name, f.name)).symlink_to(f)
    lm = read_gene_map(src_dir / "map_lm.txt")
    geo_rids, _ = read_gctx_ids(src_dir / "geo_compendium.gctx")
    write_l1000(wd / "l1000.gctx", wd / "l1000.chip", lm, geo_rids, args.l1000)
    t_gen = time.perf_counter() - t
    print(f"synthetic sources and {args.l1000:,} L1000 profiles ready in {t_gen:.0f} s (not counted)")
    drop_from_page_cache(src_dir)

    override = {"run_name": RUN,
                "data": {"download": {"dir": str(wd / "downloads"), "mirror": [str(mirror)],
                                      "sources": {m: {"sha256": None} for m in ["map_lm", "map_tg"]}}},
                "dgex": {"layers": [1], "units": [3000], "dropout": [0.1], "epochs": 2},
                "inference": {"input": str(wd / "l1000.gctx"), "chip": str(wd / "l1000.chip")}}
    if args.baselines:
        override["baselines"] = {"methods": args.baselines}
    run = wd / "run"
    run.mkdir()
    (run / "rehearsal.yaml").write_text(yaml.safe_dump(override, sort_keys=False))
    base = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(run), "--configfile",
            str(REPO / "configs" / "paper.yaml"), str(run / "rehearsal.yaml")]
    t = time.perf_counter()
    with open(wd / "snakemake.log", "w") as log:
        proc = subprocess.Popen(base + ["--cores", str(args.cores), "--scheduler", "greedy", "--quiet", "rules"], stdout=log,
                                stderr=subprocess.STDOUT)
        rss = TreeRss(proc.pid)
        rc = proc.wait()
        tree_peak = rss.stop()
        if rc == 0:
            rc = subprocess.run(base + ["--cores", "1", "--report", f"results/{RUN}/report.html"], stdout=log,
                                stderr=subprocess.STDOUT).returncode
    wall = time.perf_counter() - t
    if rc:
        print((wd / "snakemake.log").read_text()[-8000:])
        raise SystemExit(f"workflow failed ({rc}); log: {wd / 'snakemake.log'}")

    R = run / "results" / RUN
    jobs = read_benchmarks(R / "benchmarks")
    by_rule = jobs.groupby("rule").agg(jobs=("job", "size"), wall_s=("wall_s", "sum"), max_wall_s=("wall_s", "max"),
                                       peak_rss_gb=("peak_rss_gb", "max")).sort_values("wall_s", ascending=False)
    pd.set_option("display.width", 160)
    pd.set_option("display.max_rows", 500)
    print("\nper job:")
    print(jobs.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    print("\nper rule (wall_s: summed over its jobs):")
    print(by_rule.to_string(float_format=lambda v: f"{v:.2f}"))

    train = jobs[jobs["rule"] == "train_dgex"]
    part = pd.read_csv(R / "partitions" / "targets.tsv", sep="\t")["part"].value_counts()
    n_tr = int((pd.read_csv(R / "splits" / "assignment.tsv", sep="\t")["split"] == "geo_tr").sum())
    flops = sum(training_flops(943, int(n), 3000, 1, n_tr, 2) for n in part)
    rate = flops / train["wall_s"].sum() / 1e9 if len(train) else float("nan")
    paper = sum(training_flops(943, 4760, u, h, GEO_TR, PAPER_EPOCHS) * 2 * PAPER_DROPOUTS for h, u in PAPER_GRID)
    out = {"profiles": args.profiles, "l1000_profiles": args.l1000, "wall_min": wall / 60, "tree_peak_rss_gb": tree_peak,
           "max_job_rss_gb": float(jobs["peak_rss_gb"].max()), "jobs": len(jobs), "gemm_gflops": gf, "disk_mb_s": disk,
           "train_gflops": rate, "train_x_gemm": rate / gf, "paper_grid_pflop": paper / 1e15,
           "paper_grid_cpu_days_at_train_rate": paper / (rate * 1e9) / 86400,
           "paper_grid_gpu_hours": paper / (args.gpu_tflops * 1e12) / 3600, "gpu_tflops_assumed": args.gpu_tflops,
           "report": (R / "report.html").exists()}
    print("\n" + json.dumps(out, indent=1))
    print(f"\nwhole rehearsal {wall / 60:.1f} min (goal 120), largest job {out['max_job_rss_gb']:.2f} GB (goal <= 16), all "
          f"processes together {tree_peak:.2f} GB; training {rate:.0f} GFLOP/s = {rate / gf:.2f} x GEMM; the paper's grid "
          f"({paper / 1e15:.0f} PFLOP) ~{out['paper_grid_gpu_hours']:.0f} GPU-hours at {args.gpu_tflops:.0f} TFLOP/s sustained")
    if not args.keep:
        shutil.rmtree(wd)


if __name__ == "__main__":
    main()
