"""The raw source files besides GCT/GCTX: D-GEX's gene maps (map_lm.txt, map_tg.txt) and the Geuvadis RPKM table."""
from __future__ import annotations

import gzip
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from .gctx import Gct
from .io import InputError, atomic_path, check_finite_values, check_unique, write_text


@dataclass
class GeneMap:
    """A D-GEX gene map (map_lm.txt / map_tg.txt): symbol, Ensembl id, probe ids."""

    symbols: list[str]
    ensembl: list[str]
    probes: list[list[str]]

    def __len__(self) -> int:
        return len(self.ensembl)


def read_gene_map(path: str | os.PathLike) -> GeneMap:
    """Read a tab-separated gene map (symbol, Ensembl id, comma-separated probe ids; no header)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: gene map not found")
    symbols, ensembl, probes = [], [], []
    with open(path) as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.rstrip("\n\r")
            if not line.strip():
                continue
            parts = line.split("\t")
            if len(parts) != 3 or not parts[1].startswith("ENS") or not parts[2]:
                raise InputError(f"{path}:{lineno}: expected 'symbol<TAB>Ensembl id<TAB>probe[,probe...]', got {line[:80]!r}")
            symbols.append(parts[0])
            ensembl.append(parts[1])
            probes.append([p for p in parts[2].split(",") if p])
    if not ensembl:
        raise InputError(f"{path}: gene map is empty")
    check_unique(ensembl, f"{path}: Ensembl ids")
    return GeneMap(symbols, ensembl, probes)


def write_gene_map(path: str | os.PathLike, gmap: GeneMap) -> None:
    """Write a gene map in D-GEX's format."""
    lines = [f"{s}\t{e}\t{','.join(p)}\n" for s, e, p in zip(gmap.symbols, gmap.ensembl, gmap.probes)]
    write_text(path, "".join(lines))


G1000_ANNOTATION = ["TargetID", "Gene_Symbol", "Chr", "Coord"]


def read_g1000(path: str | os.PathLike) -> Gct:
    """Read a Geuvadis GeneQuantRPKM table (TargetID, Gene_Symbol, Chr, Coord, then one column per sample)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: file not found")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt") as fh:
            df = pd.read_csv(fh, sep="\t", low_memory=False)
    except (OSError, EOFError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise InputError(f"{path}: corrupt or unreadable table ({type(exc).__name__}: {exc})") from exc
    missing = [c for c in G1000_ANNOTATION if c not in df.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {missing}; expected {G1000_ANNOTATION} then one column per sample")
    samples = [c for c in df.columns if c not in G1000_ANNOTATION]
    if not samples:
        raise InputError(f"{path}: no sample columns")
    try:
        values = df[samples].to_numpy(dtype=np.float32).T
    except ValueError as exc:
        raise InputError(f"{path}: non-numeric expression values ({exc})") from exc
    rids = df["TargetID"].astype(str).tolist()
    check_unique(rids, f"{path}: TargetID")
    check_unique(samples, f"{path}: sample columns")
    check_finite_values(values, str(path))
    return Gct(values, rids, samples, df[G1000_ANNOTATION].set_index("TargetID"), pd.DataFrame(index=pd.Index(samples)))


def write_g1000(path: str | os.PathLike, gct: Gct, symbols: Sequence[str], chroms: Sequence[str], coords: Sequence[int]) -> None:
    """Write a Geuvadis-style GeneQuantRPKM table, gzipped when the path ends in .gz."""
    df = pd.DataFrame({"TargetID": gct.rids, "Gene_Symbol": list(symbols), "Chr": list(chroms), "Coord": list(coords)})
    df = pd.concat([df, pd.DataFrame(gct.values.T, columns=gct.cids)], axis=1)
    path = Path(path)
    with atomic_path(path) as tmp:
        if path.suffix == ".gz":
            with open(tmp, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as gz:
                gz.write(df.to_csv(sep="\t", index=False, float_format="%.4f", lineterminator="\n").encode())
        else:
            df.to_csv(tmp, sep="\t", index=False, float_format="%.4f", lineterminator="\n")
