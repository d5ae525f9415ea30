"""Memory of the probe-level LINCS model (lincs_model: probes) at the paper's size: estimates from the shapes for training
and inference, and the peak RSS of a real `dgex-infer` run on a probe-level bundle of the chosen size (fresh process).

The paper's model: 978 landmark probes -> 21,290 target probes in two halves of 10,645, D-GEX 3 x 9000, output layer
9,000 x 10,645 per half; training on 88,807 GEO-tr profiles. Untrained networks (weights do not change memory or speed).
Measured 2026-12-01 (500 profiles, chunk 500, 2 shared cores): peak RSS 7.8 GiB, all of it from loading the two networks
(a process that only loads them peaks the same); 65 s. See docs/inference.md and docs/data.md.

    flock /tmp/dgex-heavy.lock .venv/bin/python benchmarks/probe_memory.py [--layers 3] [--units 9000] \
        [--targets 21290] [--profiles 500] [--chunk-size 500] [--estimate-only]
"""
from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow_scripts"))

from dgex.architecture import Architecture, TrainingJob, memory_estimate, parameter_count  # noqa: E402

N_LANDMARKS = 978
GEO_TR, GEO_VA, GEO_TE, MONITOR = 88_807, 11_101, 11_101, 5_000  # the paper's splits; dgex.monitor_size
INFER_BATCH = 4096  # dgex.inferrer.Inferrer's batch
GB = 2**30


def inference_estimate(arch: Architecture, n_targets: int, chunk: int, parts: int = 2) -> dict[str, float]:
    """Bytes of a probe-level dgex-infer run beyond the Python/TensorFlow runtime, by item."""
    per_part = -(-n_targets // parts)
    n_rows = N_LANDMARKS + n_targets
    return {
        "weights (all parts)": 4 * parts * parameter_count(N_LANDMARKS, per_part, arch),
        "output block (chunk x rows)": 4 * chunk * n_rows,
        "inferred targets before placing": 4 * chunk * n_targets,
        "input block, normalized and standardized landmarks": 3 * 4 * chunk * N_LANDMARKS,
        "activations of one batch (two hidden layers and the output alive)": 4 * INFER_BATCH * 2 * (arch.units + per_part),
    }


def training_estimate(arch: Architecture, n_targets: int, parts: int = 2) -> dict[str, float]:
    """Bytes of one training job (one half) on the CPU: the device estimate of dgex.architecture, plus host copies."""
    per_part = -(-n_targets // parts)
    n_eval = MONITOR + GEO_VA + GEO_TE
    est = memory_estimate(N_LANDMARKS, per_part, arch, 200, GEO_TR, n_eval)
    est["two best models and a checkpoint (host)"] = 3 * 4 * parameter_count(N_LANDMARKS, per_part, arch)
    est["NumPy copies of the data (host; TensorFlow's are above)"] = 4 * (GEO_TR + n_eval) * (N_LANDMARKS + per_part)
    return est


def loading_peak(n_targets: int, parts: int = 2) -> int:
    """Bytes while a training job reads GEO-tr (every probe) and takes its part's columns, before any model exists."""
    return 4 * GEO_TR * (N_LANDMARKS + n_targets) + 4 * GEO_TR * (N_LANDMARKS + -(-n_targets // parts))


def make_probe_bundle(root: Path, arch: Architecture, n_targets: int) -> Path:
    """A probe-level bundle: 978 landmark probes among n_targets target probes (interleaved), two untrained halves."""
    from dgex.bundle import write_bundle
    from dgex.network import build_model, save_model
    from dgex.probes import probe_maps

    rng = np.random.default_rng(0)
    probes = [f"{200000 + i}_at" for i in range(N_LANDMARKS + n_targets)]
    lm_probes = [probes[i] for i in np.sort(rng.choice(len(probes), N_LANDMARKS, replace=False))]
    chip = pd.DataFrame({"probe_id": lm_probes, "symbol": [f"LM{i}" for i in range(N_LANDMARKS)],
                         "entrez_id": [str(1000 + i) for i in range(N_LANDMARKS)]})
    lm, tg = probe_maps(chip, probes, "synthetic")
    part = np.arange(n_targets) % 2
    models = {}
    for p in (0, 1):
        models[p] = root / f"net{p}.keras"
        save_model(build_model(N_LANDMARKS, int((part == p).sum()), arch, seed=p), models[p])
    stats = pd.DataFrame({"gene": lm.ensembl + tg.ensembl, "role": ["landmark"] * N_LANDMARKS + ["target"] * n_targets,
                          "mean": rng.uniform(5, 12, len(probes)), "std": rng.uniform(0.5, 2, len(probes))})
    return write_bundle(root / "bundle", architecture=arch.name, criterion="geo", models=models,
                        partition=pd.DataFrame({"gene": tg.ensembl, "part": part}), stats=stats,
                        reference=np.sort(rng.normal(8, 2, N_LANDMARKS)), landmark_map=lm, chip=chip, target_map=tg,
                        row_order=probes)


def make_input(path: Path, bundle: Path, n: int) -> None:
    """L1000-like input: the bundle's 978 landmark probes x n profiles."""
    from dgex.bundle import load_bundle
    from dgex.gctx import Gct, write_gct

    rids = load_bundle(bundle).landmarks["probe_id"].tolist()
    values = np.random.default_rng(1).normal(8, 2, (n, N_LANDMARKS)).astype(np.float32)
    write_gct(path, Gct(values, rids, [f"P{i:07d}" for i in range(n)]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--layers", type=int, default=3)
    ap.add_argument("--units", type=int, default=9000)
    ap.add_argument("--targets", type=int, default=21_290)
    ap.add_argument("--profiles", type=int, default=500)
    ap.add_argument("--chunk-size", type=int, default=500)
    ap.add_argument("--estimate-only", action="store_true")
    a = ap.parse_args()
    arch = Architecture(a.layers, a.units, 0.1)
    per_part = -(-a.targets // 2)
    print(f"probe-level D-GEX {arch.shape}: {N_LANDMARKS} -> {a.targets:,} probes in 2 halves; output layer "
          f"{a.units:,} x {per_part:,} ({4 * a.units * per_part / GB:.2f} GiB) per half")
    for title, est in (("training, one half", training_estimate(arch, a.targets)),
                       (f"inference, chunk {a.chunk_size:,}", inference_estimate(arch, a.targets, a.chunk_size)),
                       ("inference, chunk 10,000 (default)", inference_estimate(arch, a.targets, 10_000))):
        print(f"\n{title}: {sum(est.values()) / GB:.2f} GiB beyond the runtime")
        for k, v in est.items():
            print(f"  {k:<60} {v / GB:6.2f} GiB")
    print(f"\ntraining, while GEO-tr is read (before the model exists): {loading_peak(a.targets) / GB:.2f} GiB")
    job = TrainingJob(arch, N_LANDMARKS, per_part, GEO_TR, MONITOR + GEO_VA + GEO_TE)
    input_mb = 4 * (GEO_TR + GEO_VA + GEO_TE) * (N_LANDMARKS + a.targets) / 2**20
    print(f"\ncluster reservation of a training job (rules/common.smk, x1.3 margin, inputs counted whole): "
          f"{job.host_memory_mb(input_mb) / 1024:.1f} GiB")
    if a.estimate_only:
        return
    with tempfile.TemporaryDirectory(prefix="probe_memory_") as tmp:
        root = Path(tmp)
        t0 = time.time()
        manifest = make_probe_bundle(root, arch, a.targets)
        make_input(root / "in.gctx", manifest.parent, a.profiles)
        print(f"\nbundle and input written in {time.time() - t0:.0f} s")
        code = ("import resource, sys; from dgex.bundle import load_bundle; from dgex.inferrer import Inferrer; "
                f"Inferrer(load_bundle({str(manifest.parent)!r})); "
                "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20)")
        loaded = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True,
                                cwd=Path(__file__).resolve().parents[1] / "workflow_scripts")
        print(f"loading the bundle's networks alone: peak RSS {float(loaded.stdout.split()[-1]):.2f} GiB")
        t0 = time.time()
        subprocess.run([sys.executable, "-m", "dgex.infer", str(root / "in.gctx"), str(root / "out.gctx"), "--bundle",
                        str(manifest.parent), "--chunk-size", str(a.chunk_size), "-q"], check=True,
                       cwd=Path(__file__).resolve().parents[1] / "workflow_scripts")
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
        print(f"dgex-infer, {a.profiles:,} profiles, chunk {a.chunk_size:,}: {time.time() - t0:.0f} s, peak RSS {peak:.2f} GiB "
              f"(estimate beyond the runtime: {sum(inference_estimate(arch, a.targets, a.chunk_size).values()) / GB:.2f} GiB)")


if __name__ == "__main__":
    main()
