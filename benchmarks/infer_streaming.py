"""Streaming inference benchmark: profiles/s and peak RSS of `dgex.infer.infer_gctx` on 100,000 and 400,000 synthetic
L1000 profiles (978 landmark rows, 943 model inputs), each size in a fresh process so peak RSS is its own.

A streamed inference can go no faster than its floor, the slower of two rates measured in the same process just before
it: the networks alone (predicting in-memory blocks) and writing the output at the disk's sequential write rate (a
file of the output's size, up to 1 GB, written in 16 MB blocks and fsync'ed, like `dd conv=fdatasync`), divided by the
bytes of one output profile. The end-to-end rate (its final fsync included) over the floor is the figure to hold
against the goal of 0.7. Also measured: the resident memory of a process that has only loaded the bundle, so the
growth that streaming adds is visible; peak RSS must stay flat in the number of profiles.

    flock /tmp/dgex-heavy.lock .venv/bin/python benchmarks/infer_streaming.py \
        [--profiles 100000 400000] [--units 300] [--targets 2000] [--paper-size] [--repeat 1]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

N_L1000, N_MODEL = 978, 943


def rss_mb() -> float:
    """Current resident set size of this process (MB)."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def disk_write_rate(folder: Path, nbytes: int, block: int = 16 << 20) -> float:
    """Sequential write rate (bytes/s) of a fresh file in `folder`, fdatasync included (as `dd conv=fdatasync`)."""
    path = folder / "write_probe.bin"
    buf = np.random.default_rng(3).integers(0, 255, block, dtype=np.uint8).tobytes()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        t = time.perf_counter()
        written = 0
        while written < nbytes:
            written += os.write(fd, buf[: min(block, nbytes - written)])
        os.fdatasync(fd)
        return written / (time.perf_counter() - t)
    finally:
        os.close(fd)
        path.unlink()


def networks_rate(inferrer, chunk: int, min_seconds: float = 3.0) -> float:
    """Profiles/s of the bundle's networks alone on an in-memory block of standardized landmarks (after one warm-up)."""
    Z = np.random.default_rng(2).normal(0, 1, (chunk, N_MODEL)).astype(np.float32)
    out = inferrer(Z)  # trace the networks once
    done, t = 0, time.perf_counter()
    while done == 0 or time.perf_counter() - t < min_seconds:
        inferrer(Z, out)
        done += chunk
    return done / (time.perf_counter() - t)


def make_bundle(root: Path, units: int, n_targets: int, seed: int = 0) -> Path:
    """A bundle of two untrained 1-hidden-layer networks on 943 synthetic L1000 landmarks (weights do not change speed)."""
    from dgex.architecture import Architecture
    from dgex.bundle import write_bundle
    from dgex.network import build_model, save_model
    from dgex.sources import GeneMap

    rng = np.random.default_rng(seed)
    probes = [f"{200000 + i}_at" for i in range(N_L1000)]
    ens = [f"ENSG{10_000_000 + i:011d}" for i in range(N_MODEL + n_targets)]
    lm = GeneMap([f"LM{i}" for i in range(N_MODEL)], ens[:N_MODEL], [[p] for p in probes[:N_MODEL]])
    chip = pd.DataFrame({"probe_id": probes, "symbol": [f"LM{i}" for i in range(N_L1000)],
                         "entrez_id": [str(1000 + i) for i in range(N_L1000)]})
    part = np.arange(n_targets) % 2
    models = {}
    for p in (0, 1):
        models[p] = root / f"net{p}.keras"
        save_model(build_model(N_MODEL, int((part == p).sum()), Architecture(1, units, 0.0), seed=p), models[p])
    stats = pd.DataFrame({"gene": ens, "role": ["landmark"] * N_MODEL + ["target"] * n_targets,
                          "mean": rng.uniform(5, 12, len(ens)), "std": rng.uniform(0.5, 2, len(ens))})
    reference = np.sort(rng.normal(8, 2, N_MODEL))
    return write_bundle(root / "bundle", architecture=f"h1x{units}_d00", criterion="geo", models=models,
                        partition=pd.DataFrame({"gene": ens[N_MODEL:], "part": part}), stats=stats, reference=reference,
                        landmark_map=lm, chip=chip)


def make_input(path: Path, n: int, chunk: int = 20_000, seed: int = 1) -> None:
    """A synthetic Level-3-like GCTX (978 landmark probes x n profiles), written in chunks."""
    from dgex.gctx import GctxWriter

    rng = np.random.default_rng(seed)
    rids = [f"{200000 + i}_at" for i in range(N_L1000)]
    w = GctxWriter(path, rids, pd.DataFrame({"pr_gene_symbol": [f"LM{i}" for i in range(N_L1000)]}), n)
    for s in range(0, n, chunk):
        w.write(s, rng.normal(8, 2, (min(chunk, n - s), N_L1000)).astype(np.float32))
    ids = np.array([f"PROFILE{i:07d}".encode() for i in range(n)])
    col = w.meta.create_group("COL")
    col.create_dataset("id", data=ids)
    col.create_dataset("cell_id", data=np.full(n, b"SYN"))
    w.close()


def child(args) -> None:
    """One measured inference run; prints a JSON line."""
    import tensorflow as tf

    from dgex.bundle import load_bundle
    from dgex.infer import InferenceSettings, infer_gctx
    from dgex.inferrer import Inferrer

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    bundle = load_bundle(args.bundle)
    inferrer = Inferrer(bundle)
    net_rate = networks_rate(inferrer, args.chunk)
    base_rss, base_peak = rss_mb(), peak_rss_mb()
    profile_bytes = 4 * (N_L1000 + len(bundle.targets))
    n = args.n_profiles
    write_rate = disk_write_rate(Path(args.output).parent, min(1 << 30, n * profile_bytes))
    t = time.perf_counter()
    rep = infer_gctx(args.input, bundle, args.output, InferenceSettings(chunk_size=args.chunk), inferrer)
    secs = time.perf_counter() - t
    floor = min(net_rate, write_rate / profile_bytes)
    print(json.dumps({"profiles": rep.n_profiles, "seconds": secs, "rate": rep.n_profiles / secs, "net_rate": net_rate,
                      "write_mb_s": write_rate / 1e6, "write_rate": write_rate / profile_bytes, "floor": floor,
                      "ratio": rep.n_profiles / secs / floor,
                      "base_rss_mb": base_rss, "base_peak_mb": base_peak, "peak_rss_mb": peak_rss_mb(),
                      "output_gb": Path(args.output).stat().st_size / 1e9,
                      "rows_out": rep.n_measured_rows + rep.n_inferred_rows}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profiles", type=int, nargs="+", default=[100_000, 400_000])
    ap.add_argument("--units", type=int, default=300, help="hidden units of each network (paper: 3000-9000)")
    ap.add_argument("--targets", type=int, default=2000, help="target genes over two parts (paper: 9,520)")
    ap.add_argument("--paper-size", action="store_true",
                    help="the paper's networks, 943 -> 3000 -> 4,760 per part, two parts (sets --units 3000 --targets 9520)")
    ap.add_argument("--repeat", type=int, default=1, help="runs per profile count (each in a fresh process)")
    ap.add_argument("--chunk", type=int, default=10_000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workdir", default=None, help="scratch folder (default: a temporary one, removed afterwards)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--bundle", help=argparse.SUPPRESS)
    ap.add_argument("--input", help=argparse.SUPPRESS)
    ap.add_argument("--output", help=argparse.SUPPRESS)
    ap.add_argument("--n-profiles", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.paper_size:
        args.units, args.targets = 3000, 9520
    if args.child:
        return child(args)
    work = Path(args.workdir or tempfile.mkdtemp(prefix="dgex-infer-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"machine: {platform.node()}, {os.cpu_count()} CPU(s), {platform.processor() or platform.machine()}, Python "
          f"{platform.python_version()}")
    print(f"networks: 943 -> {args.units} -> {args.targets // 2} (x2 parts); output rows 978 measured + {args.targets} inferred; "
          f"chunk {args.chunk} profiles; scratch {work}")
    try:
        bundle = make_bundle(work, args.units, args.targets)
        results = []
        for n in args.profiles:
            inp, out = work / f"input_{n}.gctx", work / f"output_{n}.gctx"
            t = time.perf_counter()
            make_input(inp, n)
            print(f"  wrote synthetic input of {n:,} profiles ({inp.stat().st_size / 1e9:.2f} GB) in "
                  f"{time.perf_counter() - t:.1f} s", flush=True)
            for _ in range(args.repeat):
                proc = subprocess.run([sys.executable, __file__, "--child", "--bundle", str(bundle), "--input", str(inp),
                                       "--output", str(out), "--chunk", str(args.chunk), "--threads", str(args.threads),
                                       "--n-profiles", str(n)], capture_output=True, text=True)
                if proc.returncode != 0:
                    sys.exit(f"inference of {n} profiles failed:\n{proc.stderr[-3000:]}")
                r = json.loads(proc.stdout.strip().splitlines()[-1])
                print(f"    {n:,} profiles: {r['rate']:,.0f} profiles/s, floor {r['floor']:,.0f}, ratio {r['ratio']:.2f}",
                      flush=True)
                results.append(r)
                out.unlink()
            inp.unlink()
        print()
        print(f"{'profiles':>9} {'seconds':>8} {'profiles/s':>10} {'nets alone':>10} {'disk MB/s':>9} {'disk-bound':>10} "
              f"{'floor':>8} {'x floor':>7} {'peak RSS MB':>11} {'bundle-only MB':>14} {'growth MB':>9} {'output GB':>9}")
        for r in results:
            print(f"{r['profiles']:>9,} {r['seconds']:>8.1f} {r['rate']:>10,.0f} {r['net_rate']:>10,.0f} "
                  f"{r['write_mb_s']:>9,.0f} {r['write_rate']:>10,.0f} {r['floor']:>8,.0f} {r['ratio']:>7.2f} "
                  f"{r['peak_rss_mb']:>11.0f} {r['base_rss_mb']:>14.0f} {r['peak_rss_mb'] - r['base_rss_mb']:>9.0f} "
                  f"{r['output_gb']:>9.2f}")
        sizes = sorted({r["profiles"] for r in results})
        if len(sizes) >= 2:
            peak = {n: max(r["peak_rss_mb"] for r in results if r["profiles"] == n) for n in sizes}
            a, b = sizes[0], sizes[-1]
            print(f"\npeak RSS {b:,} / {a:,} profiles: {peak[b] / peak[a]:.3f} (profiles x{b / a:.0f})")
        for n in sizes:
            ratios = sorted(r["ratio"] for r in results if r["profiles"] == n)
            print(f"{n:,} profiles: end-to-end / floor best {ratios[-1]:.2f}, median {statistics.median(ratios):.2f} "
                  f"over {len(ratios)} run(s)")
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
