"""L1000 ids: the chip file (which probes are landmarks, their Entrez ids), what row ids look like, matching an input's
rows to a bundle's landmarks, and a chip for the demo data."""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np
import pandas as pd

from .gctx import CMAP_NULL
from .io import InputError, check_unique
from .sources import GeneMap

if TYPE_CHECKING:
    from .bundle import Bundle

ID_TYPES = ("auto", "probe", "entrez")
PROBE_ID = re.compile(r"^\d+(_[a-z])*_at$")  # HG-U133A probe ids, as L1000 names its landmarks (200814_at, 218597_s_at)
ENTREZ_ID = re.compile(r"^\d+$")
ENSEMBL_ID = re.compile(r"^ENS[A-Z]*G\d+")
CHIP_COLUMNS = ("pr_id", "pr_type", "pr_gene_symbol", "pr_gene_id")


def read_chip(path: str | os.PathLike) -> pd.DataFrame:
    """The landmark rows (pr_type LM) of an L1000 chip file: probe_id, symbol, entrez_id (strings)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: L1000 chip file not found")
    try:
        chip = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: unreadable chip file ({type(exc).__name__}: {exc})") from exc
    missing = [c for c in CHIP_COLUMNS if c not in chip.columns]
    if missing:
        raise InputError(f"{path}: chip file lacks column(s) {missing}; expected the L1000 .chip layout with "
                         f"{list(CHIP_COLUMNS)}")
    lm = chip[chip["pr_type"] == "LM"]
    if lm.empty:
        raise InputError(f"{path}: no landmark rows (pr_type LM) in the chip file")
    out = pd.DataFrame({"probe_id": lm["pr_id"].str.strip(), "symbol": lm["pr_gene_symbol"].str.strip(),
                        "entrez_id": lm["pr_gene_id"].str.strip()}).reset_index(drop=True)
    check_unique(out["probe_id"].tolist(), f"{path}: landmark probe ids (pr_id)")
    check_unique(out["entrez_id"].tolist(), f"{path}: landmark Entrez ids (pr_gene_id)")
    bad = out.loc[~out["entrez_id"].str.fullmatch(r"\d+"), "probe_id"].tolist()
    if bad:
        raise InputError(f"{path}: {len(bad)} landmark row(s) have no numeric Entrez id (pr_gene_id), e.g. {bad[:5]}")
    return out


def demo_chip(landmark_map: GeneMap, extra_probes: Sequence[str], rng: np.random.Generator) -> pd.DataFrame:
    """An L1000-style chip for demo data: the model's landmarks plus extra landmarks the model does not use, and controls."""
    probes = [p[0] for p in landmark_map.probes] + list(extra_probes)
    symbols = list(landmark_map.symbols) + [f"XLM{i + 1}" for i in range(len(extra_probes))]
    order = rng.permutation(len(probes))
    entrez = rng.choice(np.arange(1, 200_000), len(probes), replace=False)
    rows = [{"idt_id": CMAP_NULL, "idt_name": CMAP_NULL, "pr_type": "INV", "pr_analyte_id": f"Analyte {i + 1}",
             "pr_analyte_num": i + 1, "pr_bset_id": "dp52", "pr_lua_id": CMAP_NULL, "pr_id": f"CAL{i + 1:02d}",
             "pr_pool_id": "demo", "pr_gene_symbol": CMAP_NULL, "pr_gene_id": CMAP_NULL, "pr_gene_title": CMAP_NULL}
            for i in range(2)]
    for k, i in enumerate(order):
        rows.append({"idt_id": f"DEMO{k:04d}", "idt_name": f"{symbols[i]}(LUA-{k})", "pr_type": "LM",
                     "pr_analyte_id": f"Analyte {k // 2 + 11}", "pr_analyte_num": k // 2 + 11, "pr_bset_id": f"dp5{2 + k % 2}",
                     "pr_lua_id": f"LUA-{k}", "pr_id": probes[i], "pr_pool_id": "demo", "pr_gene_symbol": symbols[i],
                     "pr_gene_id": int(entrez[i]), "pr_gene_title": f"demo gene {symbols[i]}"})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- ids
def describe_ids(ids: Sequence[str]) -> str:
    """What a list of row ids looks like, for error messages."""
    ids = [str(i) for i in ids]
    kinds = {"L1000/HG-U133A probe ids": PROBE_ID, "Entrez ids": ENTREZ_ID, "Ensembl ids": ENSEMBL_ID}
    counts = {k: sum(bool(rx.match(i)) for i in ids) for k, rx in kinds.items()}
    kind, n = max(counts.items(), key=lambda kv: kv[1])
    if n < len(ids) / 2:
        names = all(re.fullmatch(r"[A-Za-z][A-Za-z0-9.\-]*", i) for i in ids[:50])
        kind = "gene symbols or other names" if names else "unrecognized ids"
    return f"{kind} (e.g. {ids[:3]})"


def match_landmarks(rids: Sequence[str], bundle: Bundle, id_type: str = "auto", source: str = "input") -> tuple[np.ndarray, str]:
    """Row index of each of the bundle's landmarks in `rids` (-1 where absent), and the id type used."""
    if id_type not in ID_TYPES:
        raise InputError(f"id type must be one of {ID_TYPES}, got {id_type!r}")
    index = {str(r).strip(): i for i, r in enumerate(rids)}
    keys = {"probe": bundle.landmarks["probe_id"].tolist(), "entrez": bundle.landmarks["entrez_id"].tolist()}
    if not bundle.has_entrez:
        keys["entrez"] = []
    hits = {k: sum(v in index for v in ids) for k, ids in keys.items()}
    example = {"probe": f"probe ids (e.g. {keys['probe'][:2]})", "entrez": f"Entrez ids (e.g. {keys['entrez'][:2]})"}
    if id_type == "auto":
        id_type = max(hits, key=hits.get)
        if hits[id_type] == 0:
            raise InputError(f"{source}: none of its {len(rids)} row ids is a landmark of the model: the rows are "
                             f"{describe_ids(rids)}, "
                             f"the model's landmarks are {example['probe']} or "
                             f"{example['entrez'] if keys['entrez'] else 'no Entrez ids'}; "
                             "either the ids are of the wrong kind or the model was trained on a different landmark set")
    elif id_type == "entrez" and not keys["entrez"]:
        raise InputError(f"{source}: id type 'entrez' needs a bundle built with an L1000 chip file (this one has no Entrez ids)")
    elif hits[id_type] == 0:
        other = "entrez" if id_type == "probe" else "probe"
        hint = f"; they match as {other} ids: use id type '{other}' or 'auto'" if hits.get(other) else ""
        raise InputError(f"{source}: id type is '{id_type}' but no row id is one of the model's landmark {example[id_type]}; "
                         f"the rows are {describe_ids(rids)}{hint}")
    idx = np.array([index.get(k, -1) for k in keys[id_type]], dtype=np.int64)
    return idx, id_type


def describe_landmarks(bundle: Bundle, which: np.ndarray, limit: int = 12) -> str:
    """'SYMBOL (probe, Entrez)' of the bundle's landmarks at the given indices."""
    lm = bundle.landmarks.iloc[which[:limit]]
    names = [f"{s} ({p}, Entrez {e})" for s, p, e in zip(lm["symbol"], lm["probe_id"], lm["entrez_id"])]
    more = f" and {len(which) - limit} more" if len(which) > limit else ""
    return ", ".join(names) + more
