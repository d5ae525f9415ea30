"""A seeded demo dataset in the real sources' formats, from a latent-factor model with nonlinear targets."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .gctx import Gct
from .sources import GeneMap

PROBE_SUFFIXES = np.array(["_at", "_s_at", "_x_at"])


@dataclass
class DemoGenome:
    """Gene-level parameters of the demo model."""

    lm_symbols: list[str]
    lm_ensembl: list[str]
    tg_symbols: list[str]
    tg_ensembl: list[str]
    lm_probes: list[list[str]]
    tg_probes: list[list[str]]
    extra_probes: list[str]
    extra_ensembl: list[str]
    shared: np.ndarray  # target index -> landmark index it shares an Ensembl id with, or -1
    mu_l: np.ndarray
    A_l: np.ndarray
    sd_l: np.ndarray
    mu_t: np.ndarray
    B: np.ndarray
    C1: np.ndarray
    c0: np.ndarray
    C2: np.ndarray
    scale_t: np.ndarray
    centers: np.ndarray
    probe_offset: dict
    A_x: np.ndarray
    mu_x: np.ndarray


def _ids(rng: np.random.Generator, n: int, low: int, high: int) -> np.ndarray:
    return rng.choice(np.arange(low, high), size=n, replace=False)


def make_genome(rng: np.random.Generator, n_landmarks: int, n_targets: int, n_shared: int, n_extra_probes: int,
                n_extra_genes: int, n_factors: int, n_hidden: int = 30, n_tissues: int = 6) -> DemoGenome:
    """Draw gene ids, probe layout and the latent-factor model's parameters."""
    if n_shared > min(n_landmarks, n_targets):
        raise ValueError(f"demo.n_shared_ensembl={n_shared} exceeds the number of landmarks or targets")
    n_genes = n_landmarks + n_targets + n_extra_genes
    ens_num = _ids(rng, n_genes, 100_000, 300_000)
    ensembl = [f"ENSG{n:011d}" for n in ens_num]
    lm_ens = ensembl[:n_landmarks]
    tg_ens = ensembl[n_landmarks : n_landmarks + n_targets]
    extra_ens = ensembl[n_landmarks + n_targets :]
    shared = np.full(n_targets, -1)
    shared_t = rng.choice(n_targets, n_shared, replace=False)
    shared_l = rng.choice(n_landmarks, n_shared, replace=False)
    shared[shared_t] = shared_l
    for t, lm in zip(shared_t, shared_l):
        tg_ens[t] = lm_ens[lm]
    n_probes_t = rng.choice([1, 1, 1, 2, 2, 3], size=n_targets)
    n_probes = n_landmarks + int(n_probes_t.sum()) + n_extra_probes
    pnum = np.sort(_ids(rng, n_probes, 200_000, 250_000))
    probe_ids = [f"{p}{s}" for p, s in zip(pnum, rng.choice(PROBE_SUFFIXES, n_probes, p=[0.6, 0.25, 0.15]))]
    order = rng.permutation(n_probes)
    probe_ids = [probe_ids[i] for i in order]
    lm_probes = [[probe_ids[i]] for i in range(n_landmarks)]
    pos = n_landmarks
    tg_probes = []
    for k in n_probes_t:
        tg_probes.append(probe_ids[pos : pos + k])
        pos += k
    extra_probes = probe_ids[pos:]
    K = n_factors
    centers = rng.normal(0, 1.0, (n_tissues, K))
    A_l = rng.normal(0, 0.45, (K, n_landmarks))
    sd_l = np.sqrt((A_l**2).sum(0) * 2.0 + 0.3**2)
    all_probes = [p for ps in lm_probes + tg_probes for p in ps] + extra_probes
    return DemoGenome(
        lm_symbols=[f"LMK{i + 1}" for i in range(n_landmarks)],
        lm_ensembl=lm_ens,
        tg_symbols=[f"TGT{i + 1}" for i in range(n_targets)],
        tg_ensembl=tg_ens,
        lm_probes=lm_probes,
        tg_probes=tg_probes,
        extra_probes=extra_probes,
        extra_ensembl=extra_ens,
        shared=shared,
        mu_l=rng.uniform(6.5, 10.5, n_landmarks),
        A_l=A_l,
        sd_l=sd_l,
        mu_t=rng.uniform(6.0, 11.0, n_targets),
        B=rng.normal(0, 0.053, (n_landmarks, n_targets)),
        C1=rng.normal(0, 3.0 / np.sqrt(n_landmarks), (n_landmarks, n_hidden)),
        c0=rng.normal(0, 0.5, n_hidden),
        C2=rng.normal(0, 1.2 / np.sqrt(n_hidden), (n_hidden, n_targets)),
        scale_t=rng.uniform(0.5, 1.5, n_targets),
        centers=centers,
        probe_offset={p: o for p, o in zip(all_probes, rng.normal(0, 0.3, len(all_probes)))},
        A_x=rng.normal(0, 0.3, (K, len(extra_probes))),
        mu_x=rng.uniform(5, 10, len(extra_probes)),
    )


def sample_genes(g: DemoGenome, rng: np.random.Generator, n: int, shift: float = 0.0,
                 noise_l: float = 0.3, noise_t: float = 0.25) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw n profiles: (latent factors, landmark values, target values) on the log2 microarray scale."""
    K = g.A_l.shape[0]
    tissue = rng.integers(0, len(g.centers), n)
    z = g.centers[tissue] + rng.normal(0, 1.0, (n, K)) + shift * rng.normal(0, 1.0, K)
    L = g.mu_l + z @ g.A_l + rng.normal(0, noise_l, (n, len(g.mu_l)))
    s = (L - g.mu_l) / g.sd_l
    T = s @ g.B + np.tanh(s @ g.C1 + g.c0) @ g.C2
    T = g.mu_t + g.scale_t * T + rng.normal(0, noise_t, T.shape)
    has = g.shared >= 0
    T[:, has] = L[:, g.shared[has]] + rng.normal(0, 0.2, (n, int(has.sum())))
    return z, L, T


def microarray_profiles(g: DemoGenome, rng: np.random.Generator, z: np.ndarray, L: np.ndarray, T: np.ndarray,
                        probe_noise: float = 0.15) -> tuple[np.ndarray, list[str]]:
    """Probe-level log2 values in [4, 15] (profiles x probes) and the probe ids, in a shuffled probe order."""
    cols, ids = [], []
    for j, ps in enumerate(g.lm_probes):
        for p in ps:
            cols.append(L[:, j] + g.probe_offset[p])
            ids.append(p)
    for j, ps in enumerate(g.tg_probes):
        for p in ps:
            cols.append(T[:, j] + g.probe_offset[p])
            ids.append(p)
    X_extra = g.mu_x + z @ g.A_x
    for j, p in enumerate(g.extra_probes):
        cols.append(X_extra[:, j] + g.probe_offset[p])
        ids.append(p)
    V = np.stack(cols, axis=1) + rng.normal(0, probe_noise, (len(z), len(ids)))
    order = np.argsort(ids)  # Affymetrix files list probes in id order
    return np.clip(V[:, order], 4.0, 15.0).astype(np.float32), [ids[i] for i in order]


def rnaseq_rpkm(g: DemoGenome, rng: np.random.Generator, L: np.ndarray, T: np.ndarray, n_extra: int,
                noise: float = 0.35) -> tuple[np.ndarray, list[str]]:
    """RPKM (profiles x Ensembl genes) under a monotone platform distortion of the same gene values."""
    by_ens: dict[str, np.ndarray] = {}
    for j, e in enumerate(g.lm_ensembl):
        by_ens[e] = L[:, j]
    for j, e in enumerate(g.tg_ensembl):
        by_ens.setdefault(e, T[:, j])  # a target sharing a landmark's Ensembl id is that gene: one RNA-Seq value
    for e in g.extra_ensembl[:n_extra]:
        by_ens[e] = rng.uniform(4, 10) + rng.normal(0, 1.0, len(L))
    ens = sorted(by_ens)
    x = np.stack([by_ens[e] for e in ens], axis=1) - 4.0
    log_rpkm = 0.8 * x + 0.06 * x * np.abs(x) + rng.normal(0, noise, x.shape)  # increasing in x
    return np.maximum(np.exp2(log_rpkm) - 1.0, 0.0).astype(np.float32), ens


def make_demo(params: dict) -> dict:
    """Generate every demo source file's content from `params` (sizes and seed) without touching disk."""
    rng = np.random.default_rng(int(params["seed"]))
    g = make_genome(rng, params["n_landmarks"], params["n_targets"], params["n_shared_ensembl"], params["n_extra_probes"],
                    params["n_extra_genes"], params["n_factors"])
    # GEO: unique profiles plus near-duplicate re-deposits, columns shuffled.
    z, L, T = sample_genes(g, rng, params["n_geo"])
    V, probes = microarray_profiles(g, rng, z, L, T)
    n_dup = int(round(params["duplicate_fraction"] * params["n_geo"]))
    src = rng.choice(params["n_geo"], n_dup, replace=True)
    dups = np.clip(V[src] + rng.normal(0, 0.004, (n_dup, V.shape[1])), 4.0, 15.0).astype(np.float32)
    V = np.concatenate([V, dups])
    order = rng.permutation(len(V))
    V = V[order]
    gsm = _ids(rng, len(V), 1_000_000, 3_000_000)
    geo = Gct(V, probes, [f"GSM{n}" for n in gsm], pd.DataFrame(index=pd.Index(probes)),
              pd.DataFrame(index=pd.Index([f"GSM{n}" for n in gsm])))
    # RNA-Seq: the same biology, shifted tissue mix, monotone distortion, extra genes, versioned Ensembl ids.
    versions = {e: int(v) for e, v in zip(g.lm_ensembl + g.tg_ensembl + g.extra_ensembl,
                                         rng.integers(1, 15, len(g.lm_ensembl) + len(g.tg_ensembl) + len(g.extra_ensembl)))}
    symbol_of = dict(zip(g.tg_ensembl, g.tg_symbols)) | dict(zip(g.lm_ensembl, g.lm_symbols))
    z, L, T = sample_genes(g, rng, params["n_gtex"], shift=0.3)
    R, ens = rnaseq_rpkm(g, rng, L, T, params["n_extra_genes"])
    donors, tissues = _ids(rng, params["n_gtex"], 0x10000, 0xFFFFF), rng.integers(1, 3000, params["n_gtex"])
    gtex_ids = [f"GTEX-{n:05X}-{t:04d}-SM-{n % 9973:04X}" for n, t in zip(donors, tissues)]
    rids = [f"{e}.{versions[e]}" for e in ens]
    gtex = Gct(R, rids, gtex_ids,
               pd.DataFrame({"Description": [symbol_of.get(e, f"GENE{i}") for i, e in enumerate(ens)]}, index=pd.Index(rids)),
               pd.DataFrame(index=pd.Index(gtex_ids)))
    z, L, T = sample_genes(g, rng, params["n_g1000"], shift=0.3)
    R, ens = rnaseq_rpkm(g, rng, L, T, params["n_extra_genes"])
    prefixes = rng.choice(["HG", "NA"], params["n_g1000"])
    g_ids = [f"{p}{n:05d}" for p, n in zip(prefixes, _ids(rng, params["n_g1000"], 100, 99_999))]
    rids = [f"{e}.{versions[e]}" for e in ens]
    g1000 = Gct(R, rids, g_ids)
    g1000_annot = {
        "symbols": [symbol_of.get(e, f"GENE{i}") for i, e in enumerate(ens)],
        "chroms": [str(c) for c in rng.integers(1, 23, len(ens))],
        "coords": [int(c) for c in rng.integers(10_000, 200_000_000, len(ens))],
    }
    return {
        "geo": geo,
        "gtex": gtex,
        "g1000": g1000,
        "g1000_annotation": g1000_annot,
        "map_lm": GeneMap(g.lm_symbols, g.lm_ensembl, g.lm_probes),
        "map_tg": GeneMap(g.tg_symbols, g.tg_ensembl, g.tg_probes),
        "n_duplicates": n_dup,
    }
