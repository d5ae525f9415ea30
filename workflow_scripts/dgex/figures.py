"""The paper's figures, drawn with matplotlib (Agg) from the pipeline's tables."""
from __future__ import annotations

import contextlib
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .io import atomic_path  # noqa: E402

DEFAULT_COLORS = {"dgex": "#c0392b", "lr": "#2471a3"}


def save_figure(fig, png: str | os.PathLike, svg: str | os.PathLike | None, dpi: int) -> None:
    """Write PNG (and SVG) atomically; SVG without a date and with fixed ids so reruns give the same bytes."""
    with atomic_path(png) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, metadata={"Software": None})
    if svg:
        with matplotlib.rc_context({"svg.hashsalt": "dgex"}), atomic_path(svg) as tmp:
            fig.savefig(tmp, format="svg", metadata={"Date": None})
    plt.close(fig)


def per_gene_scatter(x: np.ndarray, y: np.ndarray, xlabel: str, ylabel: str, title: str, color: str, point_size: float):
    """Per-gene error of one method (x) against another (y), with the diagonal and the share of genes above it."""
    fig, ax = plt.subplots(figsize=(5.2, 5.0))
    ax.scatter(x, y, s=point_size, c=color, alpha=0.5, linewidths=0, rasterized=True)
    lo, hi = float(min(x.min(), y.min())), float(max(x.max(), y.max()))
    pad = 0.03 * (hi - lo)
    ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="0.3", lw=1, ls="--", label="equal error")
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_ylim(lo - pad, hi + pad)
    ax.set_aspect("equal")
    ax.set_xlabel(f"{xlabel}: per-gene MAE (standardized units)")
    ax.set_ylabel(f"{ylabel}: per-gene MAE (standardized units)")
    share = 100.0 * float(np.mean(x < y))
    ax.set_title(title, fontsize=10)
    ax.text(0.03, 0.97, f"{len(x):,} target genes\n{xlabel} lower on {share:.2f}%", transform=ax.transAxes, va="top", fontsize=9)
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    fig.tight_layout()
    return fig
