"""Tables and figures at the paper's size: 9,520 target genes, LR, LR-L1, LR-L2, KNN-GE and a 3 x 3 x 3 D-GEX grid.

Writes per-gene evaluation tables (evaluation/<method>/<split>.tsv, 31 methods x 4 splits) and training histories
(27 architectures x 2 parts x 200 epochs) of random but plausible errors into a temporary folder, then times what each
table and figure rule does after Python has started: read its inputs, compute, render, write (wall and CPU seconds).
The reference in the same run: reading every per-gene table once with pandas (the least any rule that uses them must
do); ratios are of CPU time, which a shared machine disturbs less than wall time.

    .venv/bin/python benchmarks/report_full_scale.py            # the paper's size (about a minute)
    .venv/bin/python benchmarks/report_full_scale.py --genes 2000 --keep /tmp/report-bench   # and keep the outputs
"""
from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow_scripts"))

from dgex import figures as F  # noqa: E402
from dgex import comparisons as C  # noqa: E402
from dgex import render as R  # noqa: E402
from dgex import selection as S  # noqa: E402
from dgex import tables as T  # noqa: E402
from dgex.architecture import Architecture  # noqa: E402
from dgex.io import write_text, write_tsv  # noqa: E402
from dgex.layout import VALIDATION_OF  # noqa: E402

SPLITS = ["geo_va", "geo_te", "g1000_va", "gtex_te"]
BASELINES = ["lr", "lr_l1", "lr_l2", "knn"]
GRID = [(h, u, d) for h in (1, 2, 3) for u in (3000, 6000, 9000) for d in (0, 10, 25)]


def make_inputs(root: Path, n_genes: int, epochs: int, seed: int = 0) -> None:
    """Per-gene evaluations of every method on every split, the partition, and every training history."""
    rng = np.random.default_rng(seed)
    genes = [f"ENSG{i:011d}" for i in range(n_genes)]
    difficulty = rng.gamma(6.0, 0.055, n_genes)
    methods = BASELINES + [f"dgex_h{h}x{u}_d{d:02d}" for h, u, d in GRID]
    for split in SPLITS:
        shift = 1.25 if split in ("g1000_va", "gtex_te") else 1.0
        for i, m in enumerate(methods):
            scale = (1.0 if m.startswith("lr") else 1.04) if i < 4 else 0.86 + 0.002 * (i % 9)
            mae = difficulty * shift * scale * rng.lognormal(0, 0.05, n_genes)
            r = np.clip(0.9 - mae + rng.normal(0, 0.03, n_genes), -1, 1)
            p = root / "evaluation" / m / f"{split}.tsv"
            p.parent.mkdir(parents=True, exist_ok=True)
            pd.DataFrame({"gene": genes, "mae": mae, "pearson": r}).to_csv(p, sep="\t", index=False, float_format="%.8g")
    part = np.arange(n_genes) % 2
    pd.DataFrame({"gene": genes, "part": part}).to_csv(root / "targets.tsv", sep="\t", index=False)
    e = np.arange(1, epochs + 1)
    for n_layers, u, d in GRID:
        for p in (0, 1):
            h = {"epoch": e, "learning_rate": 5e-4}
            for split in SPLITS:
                h[f"{split}_mae"] = 0.32 + 0.3 * np.exp(-e / 30) + (0.0004 * e if d == 0 else 0.0)
            out = root / "models" / f"h{n_layers}x{u}_d{d:02d}" / f"part{p}" / "history.tsv"
            out.parent.mkdir(parents=True, exist_ok=True)
            pd.DataFrame(h).to_csv(out, sep="\t", index=False)


def evals(root: Path, split: str) -> list[str]:
    """The per-gene table paths of every method on a split, baselines first (as the workflow lists them)."""
    dgex = [f"dgex_h{h}x{u}_d{d:02d}" for h, u, d in GRID]
    return [str(root / "evaluation" / m / f"{split}.tsv") for m in BASELINES + dgex]


def timed(label: str, fn, results: list) -> None:
    """Run fn; record its wall and CPU seconds (CPU time is steadier on a shared machine)."""
    t0, c0 = time.perf_counter(), time.process_time()
    fn()
    results.append((label, time.perf_counter() - t0, time.process_time() - c0))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--genes", type=int, default=9520)
    ap.add_argument("--epochs", type=int, default=200)
    ap.add_argument("--keep", type=Path, help="copy the tables and figures made into this folder, to look at them")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="dgex-report-bench-") as tmp:
        root, out = Path(tmp), Path(tmp) / "out"
        t0 = time.perf_counter()
        make_inputs(root, args.genes, args.epochs)
        print(f"inputs: {args.genes:,} genes x {len(BASELINES) + len(GRID)} methods x {len(SPLITS)} splits, "
              f"{len(GRID)} x 2 histories of {args.epochs} epochs, written in {time.perf_counter() - t0:.1f} s")
        res: list[tuple[str, float, float]] = []
        timed("reference: read every per-gene table once",
              lambda: [pd.read_csv(p, sep="\t") for s in SPLITS for p in evals(root, s)], res)
        ref = res[0][2]

        def summary_tables():
            for s, v in VALIDATION_OF.items():
                df = C.summary(S.load_per_gene(evals(root, s)), S.load_per_gene(evals(root, v)))
                doc = T.summary_document(df, s, 4, 2)
                write_tsv(out / f"summary_{s}.tsv", df, float_format="%.8g")
                write_text(out / f"summary_{s}.md", R.to_markdown(doc))
                write_text(out / f"summary_{s}.html", R.to_html(doc))

        def dropout_tables():
            for s in SPLITS:
                df = C.dropout_table(S.load_per_gene(evals(root, s)))
                write_text(out / f"dropout_{s}.html", R.to_html(T.dropout_document(df, s, 4)))

        def improvement():
            tests = {s: S.load_per_gene(evals(root, s)) for s in VALIDATION_OF}
            vals = {s: S.load_per_gene(evals(root, v)) for s, v in VALIDATION_OF.items()}
            write_text(out / "improvement.html", R.to_html(T.improvement_document(C.improvement_table(tests, vals), 4, 2)))

        def pearson():
            df = C.pearson_table({s: S.load_per_gene(evals(root, s)) for s in VALIDATION_OF})
            write_text(out / "pearson.html", R.to_html(T.pearson_document(df, 4)))

        def fig(kind: str):
            def draw():
                s, v = "gtex_te", "g1000_va"
                test = S.load_per_gene(evals(root, s))
                sel = S.select_dgex(S.load_per_gene(evals(root, v)))
                ov = S.overall(test)
                refs = F.baseline_references(ov, ["lr"], {})
                if kind == "architecture":
                    f = F.architecture_figure(ov[S.dgex_mask(ov["method"])], refs, "Fig. 1", "viridis", sel)
                elif kind == "density":
                    f = F.density_figure([(S.method_label(m), test[m]["mae"].to_numpy(), F.method_color(m, {}))
                                          for m in ("lr", "knn", sel)], "Fig. 2")
                elif kind == "scatter":
                    f = F.scatter_figure(test[sel]["mae"].to_numpy(), S.method_label(sel),
                                         [(S.method_label(m), test[m]["mae"].to_numpy(), F.method_color(m, {}))
                                          for m in ("lr", "knn")],
                                         "Fig. 4", 4)
                else:
                    sizes = pd.read_csv(root / "targets.tsv", sep="\t")["part"].value_counts().to_dict()
                    a = Architecture.from_method(sel)
                    curves = []
                    for d in (0, 10, 25):
                        arch = f"h{a.layers}x{a.units}_d{d:02d}"
                        hs = {p: pd.read_csv(root / "models" / arch / f"part{p}" / "history.tsv", sep="\t") for p in (0, 1)}
                        curves.append((S.method_label(f"dgex_{arch}"), C.overall_error_per_epoch(hs, sizes, s)))
                    f = F.epoch_figure(curves, refs, "Fig. 5", "viridis", "GTEx-te overall error")
                F.save_figure(f, out / f"{kind}.png", out / f"{kind}.svg", 150)
            return draw

        timed("Tables 1/2 (2 rules)", summary_tables, res)
        timed("supplementary dropout tables (4 rules)", dropout_tables, res)
        timed("improvement table", improvement, res)
        timed("Pearson table", pearson, res)
        for kind in ("architecture", "density", "scatter", "epochs"):
            timed(f"figure {kind} (one split, PNG + SVG)", fig(kind), res)
        sizes = {p.name: p.stat().st_size for p in out.iterdir()}
        if args.keep:
            shutil.copytree(out, args.keep, dirs_exist_ok=True)
    print("\n| step | wall s | CPU s | CPU x reference |\n|---|---|---|---|")
    for label, wall, cpu in res:
        print(f"| {label} | {wall:.2f} | {cpu:.2f} | {cpu / ref:.1f} |")
    print(f"\npeak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    print("largest outputs: " + ", ".join(f"{k} {v / 1e6:.2f} MB" for k, v in sorted(sizes.items(), key=lambda kv: -kv[1])[:4]))


if __name__ == "__main__":
    main()
