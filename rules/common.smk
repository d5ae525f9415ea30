# Helpers shared by the rules: config validation, paths, and the named input functions.

import itertools
from pathlib import Path

from snakemake.utils import validate

validate(config, schema="../schemas/config.schema.yaml")


RESULTS = f"results/{config['run_name']}"
LOGS = f"{RESULTS}/logs"
BENCH = f"{RESULTS}/benchmarks"
SCRIPTS = "../workflow_scripts"

RAW_FILES = {
    "geo": "geo.gctx",
    "gtex": "gtex.gctx",
    "g1000": "g1000.txt.gz",
    "map_lm": "map_lm.txt",
    "map_tg": "map_tg.txt",
}
RNASEQ_DATASETS = ["g1000", "gtex"]
# evaluation split -> (dataset it comes from, the D-GEX model selected for it)
EVAL_SPLITS = {
    "geo_va": "geo",
    "geo_te": "geo",
    "g1000_va": "rnaseq",
    "gtex_te": "rnaseq",
}
TEST_SPLITS = {"geo_te": "geo_va", "gtex_te": "g1000_va"}


wildcard_constraints:
    dataset="geo|gtex|g1000",
    split="geo_tr|geo_va|geo_te|g1000_va|gtex_te",
    arch=r"h\d+x\d+_d\d+",
    part=r"\d+",
    method=r"[a-z0-9_]+",


def raw_path(name):
    """Where the raw source file `name` lives for the configured data source."""
    if config["data"]["source"] == "demo":
        return f"{RESULTS}/raw/{RAW_FILES[name]}"
    raise ValueError(f"data.source={config['data']['source']!r} is not available in this version of the workflow")


def datasets():
    """The datasets of this run: GEO, plus the RNA-Seq sets unless data.rnaseq is false."""
    return ["geo"] + (RNASEQ_DATASETS if config["data"]["rnaseq"] else [])


def splits():
    """Every split file this run writes."""
    return ["geo_tr", "geo_va", "geo_te"] + (["g1000_va", "gtex_te"] if config["data"]["rnaseq"] else [])


def eval_splits():
    """The validation and test splits on which methods are scored."""
    return [s for s in EVAL_SPLITS if s in splits()]


def test_splits():
    """The test splits that tables and figures report."""
    return [s for s in TEST_SPLITS if s in splits()]


def architectures():
    """Every architecture of the configured grid, as wildcard names like h1x3000_d10."""
    d = config["dgex"]
    names = []
    for layers, units, dropout in itertools.product(d["layers"], d["units"], d["dropout"]):
        names.append(f"h{layers}x{units}_d{int(round(dropout * 100)):02d}")
    return names


def n_parts():
    """Number of target partitions (one network is trained per part)."""
    p = config["partitions"]
    return 1 if p["method"] == "all" else p["n_parts"]


def methods():
    """Every method scored: the baselines, then one D-GEX per architecture."""
    return list(config["baselines"]["methods"]) + [f"dgex_{a}" for a in architectures()]


def rule_params(section):
    """A config section, as passed to a rule's params (edits rerun exactly the rules that use it)."""
    return config[section]


def genes_input(wildcards):
    """Raw inputs of the gene-matrix rule for one dataset."""
    return {"data": raw_path(wildcards.dataset), "map_lm": raw_path("map_lm"), "map_tg": raw_path("map_tg")}


def qnorm_data_input(wildcards):
    """The gene matrix a quantile-normalization job maps onto the reference."""
    return f"{RESULTS}/genes/{wildcards.dataset}.h5"


def split_input(wildcards):
    """The standardized dataset a split is cut from."""
    return f"{RESULTS}/standardized/{wildcards.split.split('_')[0]}.h5"


def train_eval_inputs(wildcards):
    """Split files a D-GEX job evaluates every epoch."""
    return {s: f"{RESULTS}/splits/{s}.h5" for s in eval_splits()}


def dgex_part_predictions(wildcards):
    """Per-part D-GEX predictions of one architecture on one split."""
    return expand(f"{RESULTS}/models/dgex/{wildcards.arch}/part{{part}}/pred_{wildcards.split}.h5", part=range(n_parts()))


def evaluation_files(split):
    """Per-gene evaluation tables of every method on one split."""
    return expand(f"{RESULTS}/evaluation/{{method}}/{split}.tsv", method=methods())


def summary_inputs(wildcards):
    """Per-gene evaluations of every method on a test split and on its validation split."""
    return {
        "test": evaluation_files(wildcards.split),
        "validation": evaluation_files(TEST_SPLITS[wildcards.split]),
    }


def scatter_inputs(wildcards):
    """The summary table (which D-GEX was selected) and per-gene evaluations of every method on one test split."""
    return {
        "summary": f"{RESULTS}/tables/summary_{wildcards.split}.tsv",
        "per_gene": evaluation_files(wildcards.split),
    }


def final_outputs():
    """What `snakemake` builds by default: tables, figures and their provenance."""
    out = []
    for split in test_splits():
        out += [f"{RESULTS}/tables/summary_{split}.tsv", f"{RESULTS}/tables/summary_{split}.md"]
        out += [f"{RESULTS}/figures/scatter_{split}.png", f"{RESULTS}/figures/scatter_{split}.svg"]
    return out
