"""The paper's published results (Chen et al. 2016), shown beside a paper-sized run's own in Tables 1/2 and the improvement table.

Only numbers found in a cited source are listed; every other cell of the paper's Tables 1 and 2 (the other baselines, every
D-GEX architecture, the standard deviations, the validation errors) is left blank because no copy of those tables could
be consulted. Each value names its source (SOURCES).
"""
from __future__ import annotations

from dataclasses import dataclass

SOURCES = {
    "abstract": (
        "Chen Y, Li Y, Narayan R, Subramanian A, Xie X. Gene expression inference with deep learning. Bioinformatics "
        "32(12):1832-1839 (2016), doi:10.1093/bioinformatics/btw074: the abstract (PubMed 26873929; bioRxiv "
        "doi:10.1101/034421; README of github.com/uci-cbcl/D-GEX)"
    ),
    "tables": (
        "Chen et al. 2016, Tables 1 (GEO-te) and 2 (GTEx-te), overall errors of LR and of the D-GEX selected on "
        "validation, as quoted in this project's issue 13; they reproduce the abstract's relative improvements to the "
        "last digit ((0.3784 - 0.3204) / 0.3784 = 15.33%, (0.4702 - 0.4393) / 0.4702 = 6.57%)"
    ),
}
CITATION = "Chen et al., Bioinformatics 32(12):1832, 2016"

# The paper's gene sets: 943 landmarks and 9,520 targets (map_lm.txt / map_tg.txt of the original code).
PAPER_LANDMARKS = 943
PAPER_TARGETS = 9520
SELECTED_DGEX = "dgex"  # method key of the D-GEX selected on validation (GEO-va for GEO-te, 1000G-va for GTEx-te)


@dataclass(frozen=True)
class PaperValue:
    """One published number: a quantity of a method on a test split, and where it is published."""

    split: str  # geo_te | gtex_te
    method: str  # a baseline (lr) or SELECTED_DGEX
    quantity: str  # mae | improvement_pct | share_genes_dgex_lower_pct (the last two: selected D-GEX against `method`)
    value: float
    source: str  # key of SOURCES


PAPER_VALUES = (
    PaperValue("geo_te", SELECTED_DGEX, "mae", 0.3204, "tables"),
    PaperValue("geo_te", "lr", "mae", 0.3784, "tables"),
    PaperValue("geo_te", "lr", "improvement_pct", 15.33, "abstract"),
    PaperValue("geo_te", "lr", "share_genes_dgex_lower_pct", 99.97, "abstract"),
    PaperValue("gtex_te", SELECTED_DGEX, "mae", 0.4393, "tables"),
    PaperValue("gtex_te", "lr", "mae", 0.4702, "tables"),
    PaperValue("gtex_te", "lr", "improvement_pct", 6.57, "abstract"),
    PaperValue("gtex_te", "lr", "share_genes_dgex_lower_pct", 81.31, "abstract"),
)
_LOOKUP = {(v.split, v.method, v.quantity): v.value for v in PAPER_VALUES}


def paper_value(split: str, method: str, quantity: str) -> float | None:
    """The published value of a quantity, or None where the paper's number is not on record here."""
    return _LOOKUP.get((split, method, quantity))


def is_paper_gene_set(n_landmarks: int, n_targets: int) -> bool:
    """Whether a run infers the paper's 9,520 targets from its 943 landmarks (the gene sets its numbers refer to)."""
    return n_landmarks == PAPER_LANDMARKS and n_targets == PAPER_TARGETS


def show_paper_values(setting: bool | str, n_landmarks: int, n_targets: int) -> bool:
    """tables.paper_values: true or false as set; auto: only for a run on the paper's gene sets."""
    if setting == "auto":
        return is_paper_gene_set(n_landmarks, n_targets)
    return bool(setting)


def scale_caveat(splits, standardization_stats: str) -> str | None:
    """Why a run's GTEx-te errors are not on the paper's scale (GTEx standardized with GEO-tr statistics), else None."""
    if "gtex_te" not in splits or standardization_stats == "per_dataset":
        return None
    return ("GTEx-te errors are not on the paper's scale: this run standardizes GTEx with GEO-tr statistics "
            f"(standardization.stats: {standardization_stats}), the paper's code with GTEx's own (per_dataset, as "
            "configs/paper-original.yaml does), so only the relative improvement and the share of genes compare there.")
