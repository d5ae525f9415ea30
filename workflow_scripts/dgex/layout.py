"""The splits of the workflow and how models are selected on them: the one place rules/common.smk, scripts and tests read.

GEO profiles are split into GEO-tr/va/te; 1000 Genomes (1000G-va) and GTEx (GTEx-te) are RNA-Seq sets used whole.
Every method is scored on the validation and test splits; each test split has the validation split that chooses its model
(D-GEX architecture and epoch, a baseline's hyper-parameter). A D-GEX criterion names the validation split it selects on.
"""
from __future__ import annotations

DATASETS = ("geo", "gtex", "g1000")
RNASEQ_DATASETS = ("g1000", "gtex")
TRAIN_SPLIT = "geo_tr"
GEO_SPLITS = ("geo_tr", "geo_va", "geo_te")  # cut from the deduplicated GEO profiles by the seeded assignment
RNASEQ_SPLITS = ("g1000_va", "gtex_te")  # whole datasets
SPLITS = GEO_SPLITS + RNASEQ_SPLITS
EVAL_SPLITS = ("geo_va", "geo_te", "g1000_va", "gtex_te")  # the splits every method is scored on, in this order
# test split -> the validation split that selects the model reported on it
VALIDATION_OF = {"geo_te": "geo_va", "gtex_te": "g1000_va"}
TEST_SPLITS = tuple(VALIDATION_OF)
# D-GEX criterion (best_<criterion>.keras) -> the validation split its best model is selected on
CRITERIA = {"geo": "geo_va", "rnaseq": "g1000_va"}
# the paper's short names, and the report's long ones
SPLIT_LABELS = {"geo_va": "GEO-va", "geo_te": "GEO-te", "g1000_va": "1000G-va", "gtex_te": "GTEx-te"}
SPLIT_TITLES = {"geo_va": "GEO validation", "geo_te": "GEO test", "g1000_va": "1000G validation", "gtex_te": "GTEx test"}


def dataset_of(split: str) -> str:
    """The dataset a split is cut from: geo_te -> geo, gtex_te -> gtex."""
    return split.split("_")[0]


def splits(rnaseq: bool) -> list[str]:
    """Every split a run writes (the RNA-Seq ones only with data.rnaseq)."""
    return list(GEO_SPLITS + (RNASEQ_SPLITS if rnaseq else ()))


def eval_splits(rnaseq: bool) -> list[str]:
    """The validation and test splits on which methods are scored."""
    return [s for s in EVAL_SPLITS if s in splits(rnaseq)]


def test_splits(rnaseq: bool) -> list[str]:
    """The test splits that tables and figures report."""
    return [s for s in TEST_SPLITS if s in splits(rnaseq)]


def selection_split(split: str) -> str:
    """The validation split that chooses the model for an evaluation split (a validation split chooses for itself)."""
    return VALIDATION_OF.get(split, split)


def criterion_splits(criterion: str) -> list[str]:
    """The splits the model selected by `criterion` predicts: its validation split, then the test splits it serves."""
    validation = CRITERIA[criterion]
    return [validation] + [t for t, v in VALIDATION_OF.items() if v == validation]


def split_label(split: str) -> str:
    """The paper's name of a split: geo_te -> GEO-te."""
    return SPLIT_LABELS.get(split, split)
