"""Streaming inference benchmark: profiles/s and peak RSS of `dgex.infer.infer_gctx` on 100,000 and 400,000 synthetic
L1000 profiles (978 landmark rows, 943 model inputs), each size in a fresh process so peak RSS is its own.

Reference figures measured in the same run: the resident memory of a process that has only loaded the bundle (so the
growth that streaming adds is visible), and the networks' own throughput on in-memory blocks (so the cost of reading,
normalizing and writing is visible). Peak RSS must stay flat in the number of profiles.

    flock /tmp/dgex-heavy.lock .venv/bin/python benchmarks/infer_streaming.py \
        [--profiles 100000 400000] [--units 300] [--targets 2000]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
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
    Z = np.random.default_rng(2).normal(0, 1, (args.chunk, N_MODEL)).astype(np.float32)
    inferrer(Z)  # trace the networks once
    t = time.perf_counter()
    reps = 3
    for _ in range(reps):
        inferrer(Z)
    net_rate = reps * args.chunk / (time.perf_counter() - t)
    base_rss, base_peak = rss_mb(), peak_rss_mb()
    t = time.perf_counter()
    rep = infer_gctx(args.input, bundle, args.output, InferenceSettings(chunk_size=args.chunk), inferrer)
    secs = time.perf_counter() - t
    print(json.dumps({"profiles": rep.n_profiles, "seconds": secs, "rate": rep.n_profiles / secs, "net_rate": net_rate,
                      "base_rss_mb": base_rss, "base_peak_mb": base_peak, "peak_rss_mb": peak_rss_mb(),
                      "output_gb": Path(args.output).stat().st_size / 1e9,
                      "rows_out": rep.n_measured_rows + rep.n_inferred_rows}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profiles", type=int, nargs="+", default=[100_000, 400_000])
    ap.add_argument("--units", type=int, default=300, help="hidden units of each network (paper: 3000-9000)")
    ap.add_argument("--targets", type=int, default=2000, help="target genes over two parts (paper: 9,520)")
    ap.add_argument("--chunk", type=int, default=10_000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workdir", default=None, help="scratch folder (default: a temporary one, removed afterwards)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--bundle", help=argparse.SUPPRESS)
    ap.add_argument("--input", help=argparse.SUPPRESS)
    ap.add_argument("--output", help=argparse.SUPPRESS)
    args = ap.parse_args()
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
            proc = subprocess.run([sys.executable, __file__, "--child", "--bundle", str(bundle), "--input", str(inp),
                                   "--output", str(out), "--chunk", str(args.chunk), "--threads", str(args.threads)],
                                  capture_output=True, text=True)
            if proc.returncode != 0:
                sys.exit(f"inference of {n} profiles failed:\n{proc.stderr[-3000:]}")
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            results.append(r)
            inp.unlink()
            out.unlink()
        print()
        print(f"{'profiles':>9} {'seconds':>8} {'profiles/s':>11} {'x nets alone':>12} {'peak RSS MB':>11} "
              f"{'bundle-only RSS MB':>18} "
              f"{'growth MB':>9} {'output GB':>9}")
        for r in results:
            print(f"{r['profiles']:>9,} {r['seconds']:>8.1f} {r['rate']:>11,.0f} {r['rate'] / r['net_rate']:>12.2f} "
                  f"{r['peak_rss_mb']:>11.0f} "
                  f"{r['base_rss_mb']:>18.0f} {r['peak_rss_mb'] - r['base_rss_mb']:>9.0f} {r['output_gb']:>9.2f}")
        if len(results) >= 2:
            a, b = results[0], results[-1]
            print(f"\npeak RSS {b['profiles']:,} / {a['profiles']:,} profiles: {b['peak_rss_mb'] / a['peak_rss_mb']:.3f} "
                  f"(profiles x{b['profiles'] / a['profiles']:.0f}); throughput ratio {b['rate'] / a['rate']:.2f}")
            print(f"networks alone (in memory, same process): {a['net_rate']:,.0f} profiles/s")
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
