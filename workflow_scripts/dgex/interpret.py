"""What a trained D-GEX network learned (paper section 3.3): major weights, hub units, and how linear its hidden layer is."""
from __future__ import annotations

import os
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

POSITIVE, NEGATIVE = "#c0392b", "#2471a3"  # the paper's red and blue


# --------------------------------------------------------------------------- weights
def dense_weights(model) -> list[tuple[np.ndarray, np.ndarray]]:
    """(kernel (n_in x n_out), bias) of each hidden layer h1..hL, then of the output layer, as float64."""
    names = [layer.name for layer in model.layers]
    hidden = sorted((n for n in names if n.startswith("h") and n[1:].isdigit()), key=lambda n: int(n[1:]))
    if "targets" not in names or not hidden:
        raise ValueError(f"{model.name}: not a D-GEX network (needs dense layers h1..hL and 'targets')")
    out = []
    for name in hidden + ["targets"]:
        kernel, bias = model.get_layer(name).get_weights()
        out.append((np.asarray(kernel, dtype=np.float64), np.asarray(bias, dtype=np.float64)))
    return out


def major_mask(W: np.ndarray, n_sd: float, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Weights more than n_sd standard deviations from their unit's mean, and that deviation in SDs.

    axis=1: a unit is a row (an input unit and its weights to every next unit);
    axis=0: a unit is a column (an output unit and its weights from every previous unit).
    """
    mean = W.mean(axis=axis, keepdims=True)
    sd = W.std(axis=axis, keepdims=True)
    z = np.divide(W - mean, sd, out=np.zeros_like(W), where=sd > 0)
    return np.abs(z) > n_sd, z


def major_weights(model, input_sd: float = 4.0, output_sd: float = 5.0) -> tuple[pd.DataFrame, int]:
    """Major weights of a 1-hidden-layer network: the edge list and the number of hidden units.

    Columns: layer ('input_hidden' or 'hidden_output'), source, target (unit indices), weight, sd (signed deviation).
    """
    layers = dense_weights(model)
    if len(layers) != 2:
        raise ValueError(f"{model.name}: major weights are defined for one hidden layer, this network has {len(layers) - 1}")
    (W1, _), (W2, _) = layers
    frames = []
    for name, W, n_sd, axis in (("input_hidden", W1, input_sd, 1), ("hidden_output", W2, output_sd, 0)):
        mask, z = major_mask(W, n_sd, axis)
        src, dst = np.nonzero(mask)
        frames.append(pd.DataFrame({"layer": name, "source": src, "target": dst, "weight": W[src, dst], "sd": z[src, dst]}))
    return pd.concat(frames, ignore_index=True), W1.shape[1]


def hidden_units(edges: pd.DataFrame, n_hidden: int, hub_sd: float = 3.0) -> pd.DataFrame:
    """Per hidden unit: major in/out connections, signs of its out-connections, and whether it is a hub.

    A hub is a unit whose count of major output connections lies more than hub_sd standard deviations above
    the mean count over all hidden units; sign purity is the share of its major output weights with the majority sign.
    """
    inc = edges[edges["layer"] == "input_hidden"]
    out = edges[edges["layer"] == "hidden_output"]
    in_degree = np.bincount(inc["target"].to_numpy(), minlength=n_hidden)
    pos = np.bincount(out["source"].to_numpy(), weights=(out["weight"] > 0).to_numpy(float), minlength=n_hidden)
    out_degree = np.bincount(out["source"].to_numpy(), minlength=n_hidden)
    neg = out_degree - pos
    purity = np.divide(np.maximum(pos, neg), out_degree, out=np.full(n_hidden, np.nan), where=out_degree > 0)
    threshold = out_degree.mean() + hub_sd * out_degree.std()
    return pd.DataFrame({
        "unit": np.arange(n_hidden),
        "in_degree": in_degree,
        "out_degree": out_degree,
        "out_positive": pos.astype(np.int64),
        "out_negative": neg.astype(np.int64),
        "sign_purity": purity,
        "hub": (out_degree > threshold) & (out_degree > 0),
    })


def major_weight_summary(edges: pd.DataFrame, units: pd.DataFrame) -> dict:
    """Counts the paper reports: connected hidden units, hub units, their share of output connections and sign purity."""
    hubs = units[units["hub"]]
    n_out = int(units["out_degree"].sum())
    return {
        "hidden_units": int(len(units)),
        "major_input_hidden": int((edges["layer"] == "input_hidden").sum()),
        "major_hidden_output": int((edges["layer"] == "hidden_output").sum()),
        "units_with_major_input": int((units["in_degree"] > 0).sum()),
        "units_with_major_output": int((units["out_degree"] > 0).sum()),
        "units_with_any_major": int(((units["in_degree"] > 0) | (units["out_degree"] > 0)).sum()),
        "hub_units": int(len(hubs)),
        "hub_share_of_major_output": float(hubs["out_degree"].sum() / n_out) if n_out else 0.0,
        "hub_mean_sign_purity": float(hubs["sign_purity"].mean()) if len(hubs) else None,
        "hubs": [{"unit": int(r.unit), "out_degree": int(r.out_degree), "out_positive": int(r.out_positive),
                  "out_negative": int(r.out_negative), "sign_purity": float(r.sign_purity)}
                 for r in hubs.sort_values("out_degree", ascending=False).itertuples()],
    }


def _spread(n: int) -> np.ndarray:
    return (np.arange(n) + 0.5) / max(n, 1)


def plot_major_weights(edges: pd.DataFrame, units: pd.DataFrame, png: str | os.PathLike, svg: str | os.PathLike | None,
                       title: str, input_names: Sequence[str] | Mapping[int, str] | None = None, dpi: int = 150) -> None:
    """Draw the major weights as a three-layer graph (positive red, negative blue; hubs enlarged)."""
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection

    from .figures import save_figure

    inc = edges[edges["layer"] == "input_hidden"]
    out = edges[edges["layer"] == "hidden_output"]
    # hidden units with any major weight, ordered by out-degree (hubs on top)
    used = units[(units["in_degree"] > 0) | (units["out_degree"] > 0)].sort_values(["out_degree", "unit"])
    order = used["unit"].to_numpy()
    y_hidden = dict(zip(order, _spread(len(order))))

    def placed(nodes: pd.Series, partners: pd.Series) -> dict:
        """Inputs/outputs in the order of the mean height of the hidden units they connect to (fewer crossings)."""
        if nodes.empty:
            return {}
        h = partners.map(y_hidden)
        mean_y = h.groupby(nodes.to_numpy()).mean().sort_values()
        return dict(zip(mean_y.index, _spread(len(mean_y))))

    y_in = placed(inc["source"], inc["target"])
    y_out = placed(out["target"], out["source"])
    fig, ax = plt.subplots(figsize=(8, 7))
    for frame, x0, y0, x1, y1 in ((inc, 0.0, y_in, 1.0, y_hidden), (out, 1.0, y_hidden, 2.0, y_out)):
        if frame.empty:
            continue
        a = frame["source"].map(y0).to_numpy()
        b = frame["target"].map(y1).to_numpy()
        segs = np.stack([np.column_stack([np.full(len(a), x0), a]), np.column_stack([np.full(len(b), x1), b])], axis=1)
        colors = np.where(frame["weight"].to_numpy() > 0, POSITIVE, NEGATIVE)
        few = len(frame) < 300
        ax.add_collection(LineCollection(segs, colors=colors, linewidths=0.8 if few else 0.3, alpha=0.8 if few else 0.4))
    ax.scatter(np.zeros(len(y_in)), list(y_in.values()), s=4, c="0.3", zorder=3)
    hub = used.set_index("unit")["hub"] if len(used) else pd.Series(dtype=bool)
    ys = np.array([y_hidden[u] for u in order])
    ax.scatter(np.ones(len(order)), ys, s=np.where(hub.reindex(order).to_numpy(bool), 40, 6), c="0.1", zorder=3)
    for u in order[hub.reindex(order).to_numpy(bool)]:
        ax.annotate(f"h{u}", (1.0, y_hidden[u]), xytext=(5, 0), textcoords="offset points", fontsize=7, va="center")
    ax.scatter(np.full(len(y_out), 2.0), list(y_out.values()), s=4, c="0.3", zorder=3)
    if input_names is not None and 0 < len(y_in) <= 40:
        for i, y in y_in.items():
            ax.annotate(str(input_names[i]), (0.0, y), xytext=(-4, 0), textcoords="offset points", fontsize=6, ha="right",
                        va="center")
    ax.set_xlim(-0.3, 2.2)
    ax.set_ylim(0, 1)
    ax.set_xticks([0, 1, 2],
                  [f"landmarks ({len(y_in)})", f"hidden units ({len(order)}, {int(hub.sum())} hubs)", f"targets ({len(y_out)})"])
    ax.set_yticks([])
    for s in ("left", "right", "top"):
        ax.spines[s].set_visible(False)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    save_figure(fig, png, svg, dpi)


# --------------------------------------------------------------------------- linearity of the hidden layer
class LinearFit:
    """Least-squares fits (with intercept) of every column of Y on the same predictors A, accumulated over row blocks.

    Keeps only p x p and p x t cross-products (float64, shifted by the first block's means for accuracy), so the
    training set streams through; one symmetric eigen-decomposition then serves all t genes at once.
    """

    def __init__(self) -> None:
        self.n = 0
        self.shift_a = self.shift_y = None

    def add(self, A: np.ndarray, Y: np.ndarray) -> None:
        A = np.asarray(A, dtype=np.float64)
        Y = np.asarray(Y, dtype=np.float64)
        if self.shift_a is None:
            self.shift_a, self.shift_y = A.mean(axis=0), Y.mean(axis=0)
            p, t = A.shape[1], Y.shape[1]
            self.sa, self.sy = np.zeros(p), np.zeros(t)
            self.AA, self.AY, self.YY = np.zeros((p, p)), np.zeros((p, t)), np.zeros(t)
        A = A - self.shift_a
        Y = Y - self.shift_y
        self.n += len(A)
        self.sa += A.sum(axis=0)
        self.sy += Y.sum(axis=0)
        self.AA += A.T @ A
        self.AY += A.T @ Y
        self.YY += np.einsum("ij,ij->j", Y, Y)

    def adjusted_r2(self, rcond: float = 1e-10) -> tuple[np.ndarray, np.ndarray, int]:
        """(R^2, adjusted R^2, rank of the predictors) for every column of Y; adjusted R^2 is NaN where not applicable.

        It is not applicable when n <= rank + 1 (too few profiles for the predictors): the fit then interpolates the profiles
        (R^2 = 1) and leaves no residual degrees of freedom (see adjusted_r2_not_applicable).
        """
        n = self.n
        ma, my = self.sa / n, self.sy / n
        G = self.AA - n * np.outer(ma, ma)
        C = self.AY - n * np.outer(ma, my)
        sst = self.YY - n * my**2
        w, V = np.linalg.eigh(G)
        keep = w > rcond * max(w.max(), 0.0)
        rank = int(keep.sum())
        proj = V[:, keep].T @ C
        ssr = (proj**2 / w[keep, None]).sum(axis=0)  # explained sum of squares, C^T G^+ C
        r2 = np.divide(ssr, sst, out=np.zeros_like(sst), where=sst > 0)
        if adjusted_r2_not_applicable(n, rank):
            return r2, np.full_like(r2, np.nan), rank
        adj = 1.0 - (1.0 - r2) * (n - 1) / (n - rank - 1)
        return r2, adj, rank


def adjusted_r2_not_applicable(n: int, rank: int, predictors: str = "predictors") -> str:
    """Why adjusted R^2 cannot be computed for a fit on n profiles with `rank` predictors ('' when it can)."""
    if n > rank + 1:
        return ""
    return (f"adjusted R^2 on {predictors} n/a: {n} profiles <= {rank} {predictors} (rank) + 1, so the fit interpolates "
            "the profiles (R^2 = 1) with no residual degrees of freedom")


def hidden_model(model):
    """A model that maps landmarks to the last hidden layer's (tanh) activations."""
    import keras

    last = [w for w in model.layers if w.name.startswith("h") and w.name[1:].isdigit()][-1]
    return keras.Model(model.input, last.output, name=f"{model.name}_last_hidden")


def linear_fits(models: Sequence, X: np.ndarray, Y: np.ndarray, columns: Sequence[np.ndarray],
                batch: int = 4096) -> pd.DataFrame:
    """Adjusted R^2 of each target on the last hidden layer of its part's network versus on the raw landmarks.

    models[k] predicts the target columns `columns[k]` of Y; X are the (standardized) landmarks of the same profiles.
    An adjusted R^2 that is not applicable (too few profiles for the predictors) is NaN, with the reason in `note`;
    hidden_better is then NA.
    """
    from .network import predict

    n_targets = Y.shape[1]
    on_landmarks = LinearFit()
    on_hidden = [LinearFit() for _ in models]
    feats = [hidden_model(m) for m in models]
    for s in range(0, len(X), batch):
        xb, yb = X[s : s + batch], Y[s : s + batch]
        on_landmarks.add(xb, yb)
        for fit, f, cols in zip(on_hidden, feats, columns):
            fit.add(predict(f, xb), yb[:, cols])
    adj_h = np.full(n_targets, np.nan)
    part = np.full(n_targets, -1)
    ranks, notes = {}, {}
    for k, (fit, cols) in enumerate(zip(on_hidden, columns)):
        _, adj_h[cols], ranks[k] = fit.adjusted_r2()
        notes[k] = adjusted_r2_not_applicable(fit.n, ranks[k], "hidden units")
        part[cols] = k
    _, adj_l, rank_l = on_landmarks.adjusted_r2()
    note_l = adjusted_r2_not_applicable(on_landmarks.n, rank_l, "landmarks")
    both = np.isfinite(adj_h) & np.isfinite(adj_l)
    better = pd.array(np.where(both, adj_h > adj_l, False), dtype="boolean")
    better[~both] = pd.NA
    return pd.DataFrame({"part": part, "adj_r2_hidden": adj_h, "adj_r2_landmarks": adj_l, "hidden_better": better,
                         "rank_hidden": [ranks[p] for p in part], "rank_landmarks": rank_l,
                         "note": ["; ".join(filter(None, (notes[p], note_l))) for p in part]})


def linear_fit_notes(df: pd.DataFrame) -> list[str]:
    """The distinct reasons why adjusted R^2 values of a linear_fits table are not applicable."""
    return list(dict.fromkeys(n for note in df["note"].fillna("") for n in note.split("; ") if n))


def plot_linear_fits(df: pd.DataFrame, png: str | os.PathLike, svg: str | os.PathLike | None, title: str,
                     color: str = POSITIVE, point_size: float = 4, dpi: int = 150) -> None:
    """Scatter of each target's adjusted R^2 on landmarks (x) versus on hidden activations (y), with the diagonal.

    Where one side is not applicable for every target, the other side's distribution is drawn instead; where neither
    is, the figure states why (the reasons of linear_fit_notes).
    """
    import textwrap

    import matplotlib.pyplot as plt

    from .figures import save_figure

    x, y = df["adj_r2_landmarks"].to_numpy(np.float64), df["adj_r2_hidden"].to_numpy(np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    reasons = linear_fit_notes(df)
    below = "\n".join(textwrap.fill(n, 90) for n in reasons)  # the reasons, under the axes
    fig, ax = plt.subplots(figsize=(5, 5))
    if ok.any():
        x, y = x[ok], y[ok]
        lo = float(min(x.min(), y.min(), 0.0))
        ax.scatter(x, y, s=point_size, c=color, alpha=0.6, linewidths=0)
        ax.plot([lo, 1], [lo, 1], c="0.4", lw=0.8, ls="--")
        ax.set_xlim(lo, 1)
        ax.set_ylim(lo, 1)
        ax.set_xlabel("adjusted $R^2$ on landmarks")
        ax.set_ylabel("adjusted $R^2$ on last hidden layer")
        share = float(np.mean(y > x))
        na = f"; {len(df) - len(x)} targets n/a" if len(x) < len(df) else ""
        ax.set_title(f"{title}\n{share:.2%} of {len(x)} targets fit better on the hidden layer{na}", fontsize=9)
    elif np.isfinite(x).any() or np.isfinite(y).any():
        on, v = ("landmarks", x) if np.isfinite(x).any() else ("last hidden layer", y)
        ax.hist(v[np.isfinite(v)], bins=40, color=color)
        ax.set_xlabel(f"adjusted $R^2$ on {on}")
        ax.set_ylabel("target genes")
        ax.set_title(f"{title}\nno comparison: the other fit's adjusted $R^2$ is n/a", fontsize=9)
    else:
        ax.set_axis_off()
        ax.set_title(f"{title}\nadjusted $R^2$ not applicable", fontsize=9)
        ax.text(0.5, 0.5, "\n\n".join(textwrap.fill(n, 55) for n in reasons), ha="center", va="center", fontsize=8,
                transform=ax.transAxes)
        below = ""
    if below:
        fig.text(0.02, 0.01, below, fontsize=6, va="bottom")
    fig.tight_layout(rect=(0, 0.04 + 0.025 * below.count("\n") if below else 0, 1, 1))
    save_figure(fig, png, svg, dpi)
