"""Full-scale preprocessing benchmark: a GEO-size synthetic compendium through the workflow's data stages.

Writes, in the real formats, a synthetic GEO GCTX (129,158 profiles x 22,268 probes, float32, cmapPy layout; 18,149
near-duplicates so that 111,009 profiles remain), a GTEx-size GCTX (55,993 x 2,921), a Geuvadis-size table
(53,934 genes x 462) and gene maps of the paper's sizes (943 landmarks, 9,520 targets, 445 shared Ensembl ids); then runs
the workflow (data.source: download from a mirror folder, data.compendium: the synthetic GEO) up to the five split
files, and prints each stage's wall time and peak RSS (Snakemake's benchmark records) next to references measured in the
same run: the matrix-product rate (float32 GEMM) and the sequential disk read rate.

    .venv/bin/python benchmarks/preprocess_full_scale.py            # full size (about 45 GB of disk under --workdir)
    .venv/bin/python benchmarks/preprocess_full_scale.py --profiles 6000 --workdir /tmp/dgex-bench-small
Run it alone: flock /tmp/dgex-heavy.lock .venv/bin/python benchmarks/preprocess_full_scale.py
--sources DIR keeps the synthetic sources in DIR and reuses them when a later run asks for the same sizes (e.g. to measure
before and after a change on the same files); they are dropped from the page cache before the workflow starts either way.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow_scripts"))
N_LM, N_TG, N_SHARED, N_TG_PROBES = 943, 9520, 445, 15744
STAGES = ["download", "build_gene_matrix", "deduplicate_geo", "assign_splits", "build_quantile_reference",
          "quantile_normalize", "standardize", "write_split"]


def gemm_gflops(n: int = 2048, k: int = 22268) -> float:
    """Measured float32 matrix-product rate (GFLOP/s): the compute reference."""
    rng = np.random.default_rng(0)
    a = rng.random((n, k), dtype=np.float32)
    b = rng.random((k, n), dtype=np.float32)
    a @ b
    t = time.perf_counter()
    for _ in range(3):
        a @ b
    return 3 * 2.0 * n * n * k / (time.perf_counter() - t) / 1e9


def disk_read_rate(path: Path, nbytes: int = 2 << 30) -> float:
    """Measured sequential read rate (MB/s) of a fresh file bypassing the page cache where possible: the I/O reference."""
    tmp = path / "disk_probe.bin"
    block = np.random.default_rng(1).bytes(1 << 24)
    with open(tmp, "wb") as f:
        for _ in range(nbytes // len(block)):
            f.write(block)
        f.flush()
        os.fsync(f.fileno())
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
    t = time.perf_counter()
    with open(tmp, "rb", buffering=0) as f:
        while f.read(1 << 24):
            pass
    rate = nbytes / (time.perf_counter() - t) / 1e6
    tmp.unlink()
    return rate


def write_gctx_streamed(path: Path, n_profiles: int, probe_ids: list[str], sample_ids: list[str], make_block) -> None:
    """Write a GCTX in cmapPy's layout (matrix profiles x probes, chunks 1000 x 262), block by block."""
    tmp = path.with_name(path.name + ".tmp")
    n_probes = len(probe_ids)
    with h5py.File(tmp, "w") as f:
        f.attrs["version"] = np.bytes_("GCTX1.0")
        f.attrs["src"] = path.name
        chunk = (min(n_profiles, 1000), min(n_probes, (1024 * 256) // min(n_profiles, 1000)))
        d = f.create_dataset("0/DATA/0/matrix", shape=(n_profiles, n_probes), dtype=np.float32, chunks=chunk)
        f.create_dataset("0/META/ROW/id", data=np.array(probe_ids, dtype="S"), compression=6)
        f.create_dataset("0/META/COL/id", data=np.array(sample_ids, dtype="S"), compression=6)
        for s in range(0, n_profiles, 1000):
            d[s : s + 1000] = make_block(s, min(n_profiles, s + 1000))
    os.replace(tmp, path)


def make_sources(out: Path, n_profiles: int, n_probes: int, n_gtex: int, n_gtex_rows: int, n_g1000: int,
                 n_g1000_rows: int, seed: int = 0) -> dict:
    """Write the synthetic sources; return their paths and the expected number of profiles left by deduplication."""
    from dgex.sources import GeneMap, write_gene_map

    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    probes = [f"{200000 + i}_at" for i in range(n_probes)]
    n_map_probes = N_LM + N_TG_PROBES
    assert n_probes >= n_map_probes, "need at least 16,687 probes for the gene maps"
    perm = rng.permutation(n_probes)
    lm_probes = [[probes[i]] for i in perm[:N_LM]]
    tg_counts = np.ones(N_TG, dtype=int)
    tg_counts[rng.choice(N_TG, N_TG_PROBES - N_TG, replace=False)] += 1
    bounds = np.concatenate([[N_LM], N_LM + np.cumsum(tg_counts)])
    tg_probes = [[probes[i] for i in perm[a:b]] for a, b in zip(bounds[:-1], bounds[1:])]
    n_genes = N_LM + N_TG - N_SHARED + 5000
    ens = [f"ENSG{n:011d}" for n in rng.choice(np.arange(10_000, 300_000), n_genes, replace=False)]
    lm_ens = ens[:N_LM]
    tg_ens = ens[N_LM : N_LM + N_TG]
    shared_t = rng.choice(N_TG, N_SHARED, replace=False)
    for t, lm in zip(shared_t, rng.choice(N_LM, N_SHARED, replace=False)):
        tg_ens[t] = lm_ens[lm]
    write_gene_map(out / "map_lm.txt", GeneMap([f"L{i}" for i in range(N_LM)], lm_ens, lm_probes))
    write_gene_map(out / "map_tg.txt", GeneMap([f"T{i}" for i in range(N_TG)], tg_ens, tg_probes))

    # GEO: a tissue-mixture factor model on the log2 scale (values about 4-15), per block of 1000 profiles ~14% near-copies
    K, n_tissues = 20, 12
    centers = rng.normal(0, 1.5, (n_tissues, K))
    weights = rng.dirichlet(np.ones(n_tissues))
    A = rng.normal(0, 0.5, (K, n_probes)).astype(np.float32)
    mu = rng.uniform(6, 11, n_probes).astype(np.float32)
    n_unique = int(round(n_profiles * 111_009 / 129_158))

    def geo_block(s: int, e: int) -> np.ndarray:
        brng = np.random.default_rng([seed, s])
        n = e - s
        u = int(round(n_unique * e / n_profiles)) - int(round(n_unique * s / n_profiles))
        z = centers[brng.choice(n_tissues, u, p=weights)] + brng.normal(0, 1.0, (u, K))
        X = mu + (z @ A).astype(np.float32) + brng.standard_normal((u, n_probes), dtype=np.float32) * np.float32(0.3)
        copies = X[brng.integers(0, u, n - u)] + brng.standard_normal((n - u, n_probes), dtype=np.float32) * np.float32(0.003)
        X = np.clip(np.concatenate([X, copies]), 4.0, 15.0)
        return X[brng.permutation(n)]

    gsm = [f"GSM{n}" for n in rng.choice(np.arange(1_000_000, 4_000_000), n_profiles, replace=False)]
    write_gctx_streamed(out / "geo_compendium.gctx", n_profiles, probes, gsm, geo_block)

    # RNA-Seq: versioned Ensembl ids covering every map gene, RPKM
    rna_genes = list(dict.fromkeys(lm_ens + tg_ens + ens[N_LM + N_TG :]))

    def rnaseq(n_rows: int, n_samples: int) -> tuple[list[str], np.ndarray]:
        ids = rna_genes + [f"ENSG9{i:010d}" for i in range(max(0, n_rows - len(rna_genes)))]
        vals = np.exp2(rng.normal(2, 2, (n_samples, len(ids))).astype(np.float32)) - 1
        return [f"{e}.{rng.integers(1, 20)}" for e in ids], np.maximum(vals, 0).astype(np.float32)

    from dgex.gctx import Gct, write_gct

    rids, vals = rnaseq(n_gtex_rows, n_gtex)
    gtex_ids = [f"GTEX-{i:05X}-0001-SM-{i:04X}" for i in range(n_gtex)]
    write_gct(out / "GTEx_RNASeq_RPKM_n2921x55993.gctx", Gct(vals, rids, gtex_ids))
    rids, vals = rnaseq(n_g1000_rows, n_g1000)
    samples = [f"HG{i:05d}" for i in range(n_g1000)]
    df = pd.DataFrame({"TargetID": rids, "Gene_Symbol": [f"G{i}" for i in range(len(rids))], "Chr": "1", "Coord": 1000})
    df = pd.concat([df, pd.DataFrame(vals.T, columns=samples)], axis=1)
    with gzip.open(out / "GD462.GeneQuantRPKM.50FN.samplename.resk10.txt.gz", "wt", compresslevel=1) as fh:
        df.to_csv(fh, sep="\t", index=False, float_format="%.4f")
    return {"geo": out / "geo_compendium.gctx", "mirror": out, "expected_kept": n_unique}


def drop_from_page_cache(folder: Path) -> None:
    """Evict the files under `folder` from the page cache, so the workflow reads them from disk (as a fresh download)."""
    for f in folder.rglob("*"):
        if f.is_file():
            fd = os.open(f, os.O_RDONLY)
            try:
                os.fdatasync(fd)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def prepare_workdir(workdir: Path, sources: Path | None) -> tuple[Path, Path, float, float]:
    """Empty the workdir (a --sources folder may not lie inside it) and measure the references: (workdir, sources folder,
    float32 GEMM GFLOP/s, disk read MB/s)."""
    wd = workdir.resolve()
    src_dir = sources.resolve() if sources else wd / "sources"
    if sources and src_dir.is_relative_to(wd):
        raise SystemExit(f"--sources {src_dir} must lie outside --workdir {wd} (the workdir is emptied at the start)")
    if wd.exists():
        shutil.rmtree(wd)
    wd.mkdir(parents=True)
    print(f"machine: {os.cpu_count()} cores, {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.1f} GiB RAM")
    gf = gemm_gflops()
    disk = disk_read_rate(wd)
    print(f"reference: float32 GEMM {gf:.1f} GFLOP/s; sequential disk read {disk:.0f} MB/s")
    return wd, src_dir, gf, disk


def source_sizes(n_profiles: int, n_probes: int) -> dict:
    """make_sources' sizes: the real RNA-Seq sizes with a full-size GEO, small ones otherwise."""
    small = n_profiles < 129_158
    return {"n_profiles": n_profiles, "n_probes": n_probes, "n_gtex": 2921 if not small else 300,
            "n_gtex_rows": 55_993 if not small else 12_000, "n_g1000": 462 if not small else 100,
            "n_g1000_rows": 53_934 if not small else 12_000}


def cached_sources(folder: Path, sizes: dict, make) -> tuple[dict, float]:
    """The sources in `folder` when a stamp there records the same sizes, else newly made there; (sources, seconds)."""
    stamp = folder / "sizes.json"
    if stamp.exists() and json.loads(stamp.read_text()) == sizes:
        n_unique = int(round(sizes["n_profiles"] * 111_009 / 129_158))
        return {"geo": folder / "geo_compendium.gctx", "mirror": folder, "expected_kept": n_unique}, 0.0
    if folder.exists():
        shutil.rmtree(folder)
    t = time.perf_counter()
    src = make(folder, **sizes)
    stamp.write_text(json.dumps(sizes))
    return src, time.perf_counter() - t


def digests(results: Path) -> dict[str, str]:
    """sha256 of every output's content: HDF5 datasets and attributes (the source path aside: it names the workdir), tables."""
    import hashlib

    out = {}
    for f in sorted(results.rglob("*")):
        rel = str(f.relative_to(results))
        if not f.is_file() or rel.startswith(("benchmarks/", "logs/")) or f.name.endswith(".prov.json"):
            continue
        h = hashlib.sha256()
        if f.suffix == ".h5":
            with h5py.File(f, "r") as h5:
                for name in sorted(h5):
                    h.update(name.encode())
                    d = h5[name]
                    for s in range(0, d.shape[0] if d.shape else 1, 4096):
                        v = np.asarray(d[s : s + 4096] if d.shape else d[()])
                        h.update("\n".join(map(str, v.tolist())).encode() if v.dtype.kind in "OSU" else v.tobytes())
                h.update(repr(sorted((k, str(v)) for k, v in h5.attrs.items() if k != "source")).encode())
        else:
            h.update(f.read_bytes())
        out[rel] = h.hexdigest()
    return out


def rss_gb(x) -> float:
    return float(x) / 1024 if pd.notna(x) else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profiles", type=int, default=129_158)
    ap.add_argument("--probes", type=int, default=22_268)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/dgex-fullscale"))
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--keep", action="store_true", help="keep the generated files and results")
    ap.add_argument("--digests", type=Path, help="write the sha256 of every output's content here (JSON), to compare runs")
    ap.add_argument("--sources", type=Path, help="folder for the synthetic sources, kept and reused for the same sizes "
                                                 "(default: under --workdir, removed with it)")
    args = ap.parse_args()
    wd, src_dir, gf, disk = prepare_workdir(args.workdir, args.sources)
    src, t_gen = cached_sources(src_dir, source_sizes(args.profiles, args.probes), make_sources)
    geo_bytes = src["geo"].stat().st_size
    how = f"written in {t_gen:.0f} s" if t_gen else f"reused from {src_dir}"
    print(f"synthetic sources {how} (GEO {args.profiles:,} x {args.probes:,}: {geo_bytes / 1e9:.1f} GB)")
    drop_from_page_cache(src_dir)

    cfg = {"run_name": "fullscale", "seed": 0,
           "data": {"source": "download", "rnaseq": True, "compendium": str(src["geo"]),
                    "download": {"dir": str(wd / "downloads"), "mirror": [str(src["mirror"])],
                                 "sources": {m: {"sha256": None} for m in ["map_lm", "map_tg"]}}}}  # synthetic maps
    (wd / "run").mkdir()
    (wd / "run" / "config.yaml").write_text(yaml.safe_dump(cfg))
    R = "results/fullscale"
    targets = [f"{R}/splits/{s}.h5" for s in ["geo_tr", "geo_va", "geo_te", "g1000_va", "gtex_te"]]
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(wd / "run"),
           "--configfile", str(wd / "run" / "config.yaml"), "--cores", str(args.cores), *targets, "--quiet", "rules"]
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if proc.returncode:
        print(proc.stdout[-3000:], proc.stderr[-6000:])
        raise SystemExit(f"workflow failed ({proc.returncode})")

    rows = []
    for tsv in sorted((wd / "run" / R / "benchmarks").rglob("*.tsv")):
        b = pd.read_csv(tsv, sep="\t").iloc[0]
        rel = tsv.relative_to(wd / "run" / R / "benchmarks")
        rows.append({"job": str(rel.with_suffix("")), "wall_s": float(b["s"]), "peak_rss_gb": rss_gb(b["max_rss"])})
    jobs = pd.DataFrame(rows)
    read_s = geo_bytes / (disk * 1e6)
    kept = pd.read_csv(wd / "run" / R / "dedup" / "geo_profiles.tsv", sep="\t")["kept"].sum()
    split_sizes = pd.read_csv(wd / "run" / R / "splits" / "assignment.tsv", sep="\t")["split"].value_counts().to_dict()
    jobs["x_geo_read"] = jobs["wall_s"] / read_s
    pd.set_option("display.width", 160)
    print(f"\nper job (x_geo_read: wall time / one sequential read of the raw GEO at {disk:.0f} MB/s = {read_s:.0f} s):")
    print(jobs.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    print(f"\ndedup kept {kept:,} of {args.profiles:,} (expected {src['expected_kept']:,}); splits {split_sizes}")
    print(f"workflow wall time {wall / 60:.1f} min (goal 45 min); max peak RSS of a job "
          f"{jobs['peak_rss_gb'].max():.2f} GB (goal <= 16 GB); sources generated in {t_gen / 60:.1f} min (not counted)")
    if args.digests:
        args.digests.write_text(json.dumps(digests(wd / "run" / R), indent=1))
        print(f"output digests written to {args.digests}")
    if not args.keep:
        shutil.rmtree(wd)


if __name__ == "__main__":
    main()
