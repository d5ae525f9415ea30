"""The paper's figures, drawn with matplotlib (Agg) from per-gene evaluations and training histories."""
from __future__ import annotations

import os
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from .architecture import is_dgex  # noqa: E402
from .io import atomic_path  # noqa: E402

# method key (dgex: every D-GEX) -> colour; config figures.colors overrides these
DEFAULT_COLORS = {"dgex": "#c0392b", "lr": "#2471a3", "lr_l1": "#7d3c98", "lr_l2": "#17a589", "knn": "#d68910"}
FALLBACK_COLOR = "#566573"
REFERENCE_STYLES = ["--", ":", "-.", (0, (5, 1, 1, 1))]
MAE_UNIT = "MAE (standardized units)"
# test split -> the paper's number of its per-gene scatter figure
PAPER_SCATTER = {"geo_te": "Fig. 3", "gtex_te": "Fig. 4"}


@dataclass
class Reference:
    """A baseline drawn as a horizontal line: its label, overall error and colour."""

    label: str
    mae: float
    color: str


def method_color(method: str, colors: dict[str, str]) -> str:
    """The colour of a method: colors['dgex'] for every D-GEX, else the method's own entry."""
    key = "dgex" if is_dgex(method) else method
    return (DEFAULT_COLORS | dict(colors)).get(key, FALLBACK_COLOR)


def save_figure(fig, png: str | os.PathLike, svg: str | os.PathLike | None, dpi: int) -> None:
    """Write PNG (and SVG) atomically; SVG without a date and with fixed ids so reruns give the same bytes."""
    with atomic_path(png) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, metadata={"Software": None})
    if svg:
        with matplotlib.rc_context({"svg.hashsalt": "dgex"}), atomic_path(svg) as tmp:
            fig.savefig(tmp, format="svg", metadata={"Date": None})
    plt.close(fig)


def _reference_lines(ax, references: list[Reference]) -> None:
    for i, r in enumerate(references):
        ax.axhline(r.mae, color=r.color, lw=1.4, ls=REFERENCE_STYLES[i % len(REFERENCE_STYLES)], label=f"{r.label} ({r.mae:.4f})")


def architecture_figure(dgex: pd.DataFrame, references: list[Reference], title: str, colormap: str,
                        selected: str | None = None, ylabel: str = "overall error") -> plt.Figure:
    """Fig. 1: overall error of D-GEX against hidden units, one line per number of hidden layers, one panel per dropout."""
    rates = sorted(dgex["dropout_pct"].unique())
    units = sorted(dgex["units"].unique())
    layers = sorted(dgex["layers"].unique())
    cmap = plt.get_cmap(colormap)
    shades = cmap(np.linspace(0.15, 0.85, len(layers))) if len(layers) > 1 else [cmap(0.5)]
    fig, axes = plt.subplots(1, len(rates), figsize=(1.0 + 3.4 * len(rates), 4.4), sharey=True, squeeze=False)
    values = np.concatenate([dgex["mae"].to_numpy(np.float64), [r.mae for r in references]])
    for ax, rate in zip(axes[0], rates):
        d = dgex[dgex["dropout_pct"] == rate]
        for shade, n_layers in zip(shades, layers):
            g = d[d["layers"] == n_layers].sort_values("units")
            if g.empty:
                continue
            x = [units.index(u) for u in g["units"]]
            ax.plot(x, g["mae"], "-o", color=shade, ms=5, lw=1.6, label=f"{n_layers} hidden layer{'s' if n_layers > 1 else ''}")
        if selected is not None and selected in set(d["method"]):
            s = d[d["method"] == selected].iloc[0]
            ax.plot([units.index(s["units"])], [s["mae"]], "o", ms=12, mfc="none", mec="black", mew=1.4,
                    label="selected on validation")
        _reference_lines(ax, references)
        ax.set_xticks(range(len(units)), [f"{u:,}" for u in units])
        ax.set_xlim(-0.5, len(units) - 0.5)
        ax.set_xlabel("hidden units per layer")
        ax.set_title(f"D-GEX-{rate}% (dropout {rate}%)", fontsize=10)
        ax.grid(axis="y", color="0.9")
    lo, hi = float(values.min()), float(values.max())
    pad = 0.08 * (hi - lo) if hi > lo else 0.05 * abs(hi) + 1e-3
    axes[0][0].set_ylim(lo - pad, hi + pad)
    axes[0][0].set_ylabel(f"{ylabel}\n(mean per-gene {MAE_UNIT})")
    # one legend for all panels (the selected point is in one panel only)
    handles: dict = {}
    for ax in axes[0]:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, h)
    fig.legend(handles.values(), handles.keys(), loc="lower center", ncol=min(4, len(handles)), fontsize=8, frameon=False)
    fig.suptitle(title, fontsize=11)
    n_rows = -(-len(handles) // 4)
    fig.tight_layout(rect=(0, 0.05 + 0.05 * n_rows, 1, 1))
    return fig


def gaussian_kde(values: np.ndarray, grid: np.ndarray, bandwidth: float | None = None) -> np.ndarray:
    """Gaussian kernel density of `values` on `grid` (Scott's bandwidth unless given), float64."""
    v = np.asarray(values, dtype=np.float64)
    if bandwidth is None:
        sd = v.std(ddof=1) if len(v) > 1 else 0.0
        bandwidth = sd * len(v) ** (-1 / 5) if sd > 0 else 1e-3
    out = np.zeros(len(grid), dtype=np.float64)
    g = np.asarray(grid, dtype=np.float64)
    for start in range(0, len(v), 4096):  # bounded memory at 20,000+ genes
        z = (g[:, None] - v[None, start : start + 4096]) / bandwidth
        out += np.exp(-0.5 * z * z).sum(axis=1)
    return out / (len(v) * bandwidth * np.sqrt(2 * np.pi))


def density_figure(curves: list[tuple[str, np.ndarray, str]], title: str, n_grid: int = 512) -> plt.Figure:
    """Fig. 2: density of per-gene errors, one curve per method (label, per-gene MAE, colour)."""
    allv = np.concatenate([c[1] for c in curves])
    lo, hi = float(allv.min()), float(allv.max())
    pad = 0.1 * (hi - lo) if hi > lo else 0.1
    grid = np.linspace(max(0.0, lo - pad), hi + pad, n_grid)
    fig, ax = plt.subplots(figsize=(6.0, 4.0))
    top = 0.0
    for label, v, color in curves:
        dens = gaussian_kde(v, grid)
        top = max(top, float(dens.max()))
        ax.plot(grid, dens, color=color, lw=1.8, label=f"{label} (mean {np.mean(v):.4f})")
        ax.fill_between(grid, dens, color=color, alpha=0.08, lw=0)
    ax.set_xlabel(f"per-gene {MAE_UNIT}")
    ax.set_ylabel("density of target genes")
    ax.set_xlim(grid[0], grid[-1])
    ax.set_ylim(0, top * (1.15 + 0.1 * len(curves)))  # headroom for the legend
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper right", fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


def scatter_figure(x: np.ndarray, xlabel: str, comparisons: list[tuple[str, np.ndarray, str]], title: str,
                   point_size: float) -> plt.Figure:
    """Fig. 3/4: per-gene error of D-GEX (x) against each baseline (y, one panel each), with the diagonal."""
    n = max(1, len(comparisons))
    fig, axes = plt.subplots(1, n, figsize=(0.4 + 4.6 * n, 4.8), squeeze=False)
    for ax, (label, y, color) in zip(axes[0], comparisons):
        ax.scatter(x, y, s=point_size, c=color, alpha=0.5, linewidths=0, rasterized=True)
        lo, hi = float(min(x.min(), y.min())), float(max(x.max(), y.max()))
        pad = 0.03 * (hi - lo) if hi > lo else 0.05
        ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="0.3", lw=1, ls="--", label="equal error")
        ax.set_xlim(lo - pad, hi + pad)
        ax.set_ylim(lo - pad, hi + pad)
        ax.set_aspect("equal")
        ax.set_xlabel(f"{xlabel}: per-gene {MAE_UNIT}")
        ax.set_ylabel(f"{label}: per-gene {MAE_UNIT}")
        share = 100.0 * float(np.mean(x < y))
        ax.text(0.03, 0.97, f"{len(x):,} target genes\nD-GEX lower on {share:.2f}%\n(points above the diagonal)",
                transform=ax.transAxes, va="top", fontsize=8.5)
        ax.legend(loc="lower right", fontsize=8, frameon=False)
        ax.set_title(f"D-GEX vs {label}", fontsize=10)
    if not comparisons:
        axes[0][0].text(0.5, 0.5, "no baseline in this run", ha="center", va="center", transform=axes[0][0].transAxes)
        axes[0][0].set_axis_off()
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def epoch_figure(curves: list[tuple[str, pd.DataFrame]], references: list[Reference], title: str, colormap: str,
                 ylabel: str) -> plt.Figure:
    """Fig. 5: overall error per training epoch, a curve per dropout rate (label, frame of epoch and mae), baselines as lines."""
    cmap = plt.get_cmap(colormap)
    shades = cmap(np.linspace(0.15, 0.85, len(curves))) if len(curves) > 1 else [cmap(0.5)]
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for shade, (label, c) in zip(shades, curves):
        best = int(np.argmin(c["mae"].to_numpy()))
        ax.plot(c["epoch"], c["mae"], color=shade, lw=1.8, marker="o" if len(c) <= 30 else None, ms=3,
                label=f"{label} (min {c['mae'].iloc[best]:.4f}, epoch {c['epoch'].iloc[best]})")
    _reference_lines(ax, references)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("training epoch")
    ax.set_ylabel(f"{ylabel}\n(mean per-gene {MAE_UNIT})")
    ax.set_title(title, fontsize=10)
    ax.grid(color="0.92")
    ax.legend(loc="best", fontsize=8, framealpha=0.85)
    fig.tight_layout()
    return fig


def baseline_references(overall: pd.DataFrame, methods: list[str], colors: dict[str, str]) -> list[Reference]:
    """Reference lines for the listed baselines that this run has, from a frame of method, label and mae."""
    by_method = overall.set_index("method")
    return [Reference(str(by_method.loc[m, "label"]), float(by_method.loc[m, "mae"]), method_color(m, colors))
            for m in methods if m in by_method.index]


def well_inferred_figure(counts: pd.DataFrame, rule: str, colors: dict[str, str]) -> plt.Figure:
    """Share of target genes each method infers well (a bar per method, its count beside it), under `rule`."""
    fig, ax = plt.subplots(figsize=(6.4, 1.2 + 0.28 * len(counts)))
    y = np.arange(len(counts))[::-1]
    ax.barh(y, counts["share_pct"], color=[method_color(m, colors) for m in counts["method"]], height=0.7)
    for yi, share, n, total in zip(y, counts["share_pct"], counts["n_well_inferred"], counts["n_targets"]):
        ax.text(share + 1, yi, f"{n:,} of {total:,}", va="center", fontsize=7)
    ax.set_yticks(y, counts["label"], fontsize=8)
    ax.set_xlim(0, 118)
    ax.set_xlabel("target genes well inferred (%)")
    ax.set_title(f"Target genes inferred well, per method\n{rule.split(':')[0]}", fontsize=10)
    ax.grid(axis="x", color="0.92")
    fig.tight_layout()
    return fig
