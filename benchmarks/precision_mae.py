"""How much D-GEX's per-gene MAE moves with dgex.precision: the same workflow, seed and architectures in float32 and in another
precision (or with another setting, e.g. dgex.jit_compile=true as a yardstick of float32 rounding alone), gene by gene.

Usage: .venv/bin/python benchmarks/precision_mae.py --work /tmp/precision-mae [--compendium GCTX]
       [--other dgex.precision=mixed_bfloat16] [--set dgex.epochs=40 ...]
Without --compendium: the demo of config.yaml. With it: that GCTX as a GEO-only compendium (as tests/test_small_compendium.py
configures the shared GPL96 file). The float32 run goes to WORK/float32; a copy of it, with only the --other setting changed,
to WORK/<setting>, so Snakemake retrains the networks and reuses the preprocessing. Prints, per architecture and split,
the mean per-gene |delta MAE|, its largest value and the delta of the overall MAE (mean of the per-gene MAEs), and, as a
yardstick, how far the overall float32 MAEs of the grid's architectures lie apart.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from itertools import product
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow_scripts"))


def setting(text: str) -> dict:
    """`a.b=value` (value read as YAML) as a nested dict."""
    key, _, value = text.partition("=")
    out: dict = yaml.safe_load(value)
    for part in reversed(key.split(".")):
        out = {part: out}
    return out


def merged(base: dict, extra: dict) -> dict:
    """`base` with `extra` merged in recursively."""
    out = dict(base)
    for k, v in extra.items():
        out[k] = merged(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def run(work: Path, cfg: dict, targets: list[str], cores: int) -> None:
    """Write `cfg` to work/config.yaml and make `targets` there with the repository's workflow (its log: snakemake.log)."""
    work.mkdir(parents=True, exist_ok=True)
    (work / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(work), "--configfile",
           str(work / "config.yaml"), "--cores", str(cores), *targets]
    with open(work / "snakemake.log", "w") as log:
        if subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT).returncode:
            sys.exit(f"snakemake failed in {work}; see {work / 'snakemake.log'}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, required=True, help="scratch folder for the two runs (outside the repository)")
    ap.add_argument("--compendium", type=Path, help="a GCTX compendium used GEO-only instead of the demo data")
    ap.add_argument("--maps", type=Path, default=REPO.parent / "shared" / "data" / "dgex",
                    help="folder holding map_lm.txt and map_tg.txt (with --compendium)")
    ap.add_argument("--other", default="dgex.precision=mixed_bfloat16", metavar="KEY=VALUE",
                    help="the setting compared with the float32 run")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a further config setting (both runs)")
    ap.add_argument("--cores", type=int, default=2)
    a = ap.parse_args()
    from dgex.architecture import grid

    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    if a.compendium:
        cfg = merged(cfg, {"run_name": "compendium", "data": {"source": "download", "rnaseq": False,
                                                               "compendium": str(a.compendium.resolve()),
                                                               "download": {"dir": "dl", "mirror": str(a.maps.resolve())}}})
    for s in a.set:
        cfg = merged(cfg, setting(s))
    cfg = merged(cfg, {"dgex": {"precision": "float32"}})
    d = cfg["dgex"]
    archs = [arch.name for arch in grid(d["layers"], d["units"], d["dropout"])]
    splits = ["geo_va", "geo_te"] + (["g1000_va", "gtex_te"] if cfg["data"].get("rnaseq", True) else [])
    results = f"results/{cfg['run_name']}"
    targets = [f"{results}/evaluation/dgex_{arch}/{split}.tsv" for arch, split in product(archs, splits)]

    ref, other = a.work / "float32", a.work / a.other.removeprefix("dgex.").replace("=", "_")
    run(ref, cfg, targets, a.cores)
    if other.exists():
        shutil.rmtree(other)
    shutil.copytree(ref, other, symlinks=True)
    run(other, merged(cfg, setting(a.other)), targets, a.cores)

    rows = []
    for arch, split in product(archs, splits):
        f32, alt = (pd.read_csv(w / results / f"evaluation/dgex_{arch}/{split}.tsv", sep="\t", index_col=0) for w in (ref, other))
        delta = alt["mae"].reindex(f32.index) - f32["mae"]
        rows.append({"arch": arch, "split": split, "genes": len(f32), "mae_float32": f32["mae"].mean(),
                     f"mae_{other.name}": alt["mae"].mean(), "mean_abs_delta": float(np.abs(delta).mean()),
                     "max_abs_delta": float(np.abs(delta).max()), "delta_overall": alt["mae"].mean() - f32["mae"].mean()})
    df = pd.DataFrame(rows)
    spread = df.groupby("split")["mae_float32"].agg(lambda m: m.max() - m.min())
    pd.set_option("display.width", 200)
    print(df.to_string(index=False, float_format=lambda x: f"{x:.6f}"))
    print("\nper split, over architectures: mean |delta overall MAE|, mean per-gene |delta|, and the float32 spread of the "
          "grid's overall MAEs (best to worst architecture)")
    summary = df.groupby("split").agg(mean_abs_delta_overall=("delta_overall", lambda x: np.abs(x).mean()),
                                      mean_abs_delta_per_gene=("mean_abs_delta", "mean"),
                                      mean_overall_mae=("mae_float32", "mean"))
    print(summary.assign(grid_spread_float32=spread).to_string(float_format=lambda x: f"{x:.6f}"))


if __name__ == "__main__":
    main()
