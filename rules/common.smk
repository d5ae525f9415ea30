# Helpers shared by the rules: config validation, paths, and the named input functions.

import itertools
import json
import math
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
DOWNLOAD_SOURCES = ["geo", "gtex", "g1000", "map_lm", "map_tg"]
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
    """Where the raw source file `name` lives: the user's compendium (GEO), the demo files, or the downloads."""
    if name == "geo" and config["data"]["compendium"]:
        return config["data"]["compendium"]
    if config["data"]["source"] == "demo":
        return f"{RESULTS}/raw/{RAW_FILES[name]}"
    return download_path(name)


def download_path(name):
    """The downloaded file of source `name` (data.download.dir / its configured filename)."""
    d = config["data"]["download"]
    return f"{d['dir']}/{d['sources'][name]['filename']}"


def download_mirrors():
    """The mirror folders of data.download.mirror, as a list."""
    m = config["data"]["download"]["mirror"]
    return [m] if isinstance(m, str) else list(m)


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
        if abs(dropout * 100 - round(dropout * 100)) > 1e-9:
            raise ValueError(f"dgex.dropout: {dropout} must be a whole percent (0.1, 0.25, ...): it names the job, e.g. _d25")
        names.append(f"h{layers}x{units}_d{int(round(dropout * 100)):02d}")
    return names


def arch_shape(arch):
    """(hidden layers, units per layer) of an architecture name like h3x9000_d25."""
    layers, units = arch[1:].split("_d")[0].split("x")
    return int(layers), int(units)


# dgex settings that say where and how to run, not what to compute: changing them does not retrain
DGEX_RUN_OPTIONS = ("distribute", "memory_limit_gb")


def dgex_learning_rate(layers):
    """dgex.learning_rate of a network with `layers` hidden layers: the number, the list's entry for that depth (its
    last for deeper ones), or null (the trainer's default: the paper's 5e-4 for one hidden layer, 3e-4 for more)."""
    lr = config["dgex"]["learning_rate"]
    return float(lr[min(layers, len(lr)) - 1]) if isinstance(lr, list) else lr


def dgex_training_settings(wildcards):
    """A training job's dgex settings: the section without the run options, with the learning rate of its depth (so an
    edit reruns exactly the jobs it changes)."""
    settings = {k: v for k, v in config["dgex"].items() if k not in DGEX_RUN_OPTIONS}
    settings["learning_rate"] = dgex_learning_rate(arch_shape(wildcards.arch)[0])
    return settings


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


def rule_settings(section, *keys):
    """The named settings of a config section, as a rule's params (an edit of another setting reruns nothing)."""
    return {k: config[section][k] for k in keys}


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


def dropout_table_inputs(wildcards):
    """Per-gene evaluations of every method on the split of a supplementary (every dropout) table."""
    return evaluation_files(wildcards.split)


def improvement_inputs(wildcards):
    """Per-gene evaluations of every method on each test split and its validation split, keyed by split."""
    keys = test_splits() + [TEST_SPLITS[s] for s in test_splits()]
    return {s: evaluation_files(s) for s in keys}


def pearson_inputs(wildcards):
    """Per-gene evaluations of every method on each test split, keyed by split."""
    return {s: evaluation_files(s) for s in test_splits()}


def epoch_curve_inputs(wildcards):
    """Evaluations (selection, baselines), the target partition and every D-GEX training history, for Fig. 5."""
    return summary_inputs(wildcards) | {
        "partition": f"{RESULTS}/partitions/targets.tsv",
        "histories": expand(
            f"{RESULTS}/models/dgex/{{arch}}/part{{part}}/history.tsv", arch=architectures(), part=range(n_parts())
        ),
    }


REPORT_SPLIT_NAMES = {"geo_va": "GEO validation", "geo_te": "GEO test", "g1000_va": "1000G validation", "gtex_te": "GTEx test"}


def report_split_subcategory(wildcards):
    """Report subcategory of a per-split table or figure, e.g. 'GEO test (geo_te)'."""
    return f"{REPORT_SPLIT_NAMES[wildcards.split]} ({wildcards.split})"


def final_outputs():
    """What `snakemake` builds by default: every table (TSV, Markdown, HTML), figure (PNG, SVG) and interpretation output
    (inference_outputs adds the inferred L1000 file)."""
    tables = [f"summary_{s}" for s in test_splits()] + [f"dropout_{s}" for s in eval_splits()] + ["improvement", "pearson"]
    figures = [f"{fig}_{s}" for s in test_splits() for fig in ("architecture", "error_density", "scatter", "epochs")]
    out = [f"{RESULTS}/tables/{t}.{ext}" for t in tables for ext in ("tsv", "md", "html")]
    out += [f"{RESULTS}/figures/{f}.{ext}" for f in figures for ext in ("png", "svg")]
    out += interpretation_outputs()
    return out


# ---- Job resources: memory (MB) and wall time (minutes) that cluster schedulers reserve (README, "Running on a cluster").
# Evaluated when a job is ready, from its real input files; `attempt` grows them when Snakemake retries a job.
TRAIN_BASE_MB = 3000  # Python, NumPy, TensorFlow (+ CUDA) of one training process
TRAIN_BASE_MIN = 10  # start-up, model selection, saving models and predictions
TRAIN_FLOPS = 2.0e12  # float32 FLOP/s assumed sustained by one GPU at batch size 200 (conservative)
RESOURCE_MARGIN = 1.3  # safety factor on every estimate


def matrix_shape(path):
    """(profiles, genes, landmarks) of an intermediate matrix file, read from its HDF5 header only."""
    import h5py

    Path(path).stat()  # FileNotFoundError naming the input: Snakemake shows <TBD> until the file exists
    with h5py.File(path, "r") as f:
        n_rows, n_genes = f["values"].shape
        return int(n_rows), int(n_genes), int(f.attrs["n_landmarks"])


def dgex_job_size(wildcards, input):
    """(parameters, training profiles, evaluated profiles, targets) of one D-GEX training job, from its inputs."""
    import csv

    layers, units = arch_shape(wildcards.arch)
    n_train, _, n_in = matrix_shape(input.train)
    with open(input.partition, newline="") as fh:
        n_out = sum(1 for row in csv.DictReader(fh, delimiter="\t") if row["part"] == wildcards.part)
    widths = [n_in] + [units] * layers + [n_out]
    n_params = sum(a * b + b for a, b in zip(widths[:-1], widths[1:]))
    n_eval = min(config["dgex"]["monitor_size"], n_train) + sum(matrix_shape(input[s])[0] for s in eval_splits())
    return n_params, n_train, n_eval, n_out


def dgex_mem_mb(wildcards, input, attempt):
    """Host memory of a D-GEX training job: runtime, loaded matrices, device copies of its data, model state."""
    n_params, n_train, n_eval, n_out = dgex_job_size(wildcards, input)
    n_in = matrix_shape(input.train)[2]
    data = 2 * 4 * (n_train + n_eval) * (n_in + n_out)  # landmark/target copies in NumPy and in TensorFlow
    model = 7 * 4 * n_params  # weights, momentum, gradients, two best models, checkpoint, save buffer
    need = TRAIN_BASE_MB + input.size_mb + (data + model) / 2**20
    return int(math.ceil(need * RESOURCE_MARGIN * attempt / 100) * 100)


def dgex_runtime(wildcards, input, attempt):
    """Wall time of a D-GEX training job: its epochs' SGD (6 FLOPs per parameter and profile) and evaluations."""
    n_params, n_train, n_eval, _ = dgex_job_size(wildcards, input)
    epoch_s = (6 * n_params * n_train + 2 * n_params * n_eval) / TRAIN_FLOPS
    minutes = TRAIN_BASE_MIN + config["dgex"]["epochs"] * epoch_s / 60
    return int(math.ceil(minutes * RESOURCE_MARGIN * attempt))


def data_mem_mb(wildcards, input, attempt):
    """Memory of a whole-matrix data job (linear regression, normalization): its inputs three times over, plus runtime."""
    return int(math.ceil((1000 + 3 * input.size_mb) * RESOURCE_MARGIN * attempt / 100) * 100)


# ---- Interpretation (rules/interpret.smk) and inference on L1000 profiles (rules/infer.smk); docs/inference.md.
def require_rnaseq(criterion):
    """Fail clearly when a model selected on RNA-Seq (1000 Genomes) is asked of a run without RNA-Seq data."""
    if criterion == "rnaseq" and not config["data"]["rnaseq"]:
        raise ValueError("model: rnaseq needs data.rnaseq: true (the RNA-Seq model is selected on 1000 Genomes)")


def dgex_model_file(arch, part, criterion):
    """The best D-GEX network of one architecture and part, selected on GEO (geo) or 1000 Genomes (rnaseq)."""
    require_rnaseq(criterion)
    return f"{RESULTS}/models/dgex/{arch}/part{part}/best_{criterion}.keras"


def interpreted_model(wildcards):
    """The network of one part whose major weights are drawn."""
    return dgex_model_file(wildcards.arch, wildcards.part, config["interpretation"]["model"])


def interpreted_models(wildcards):
    """The networks of every part of one architecture, for the linear fits on hidden activations."""
    return [dgex_model_file(wildcards.arch, p, config["interpretation"]["model"]) for p in range(n_parts())]


# the interpretation settings a job computes with (interpretation.architectures only decides which jobs exist)
INTERPRETATION_PARAMS = rule_settings("interpretation", "enabled", "model", "input_sd", "output_sd", "hub_sd")


def interpreted_architectures():
    """interpretation.architectures (checked against the grid), or every architecture of the grid when it is empty."""
    chosen = config["interpretation"]["architectures"] or architectures()
    unknown = [a for a in chosen if a not in architectures()]
    if unknown:
        raise ValueError(f"interpretation.architectures: {unknown} not in the dgex grid {architectures()}")
    return chosen


def interpretation_outputs():
    """Interpretation tables and figures: linear fits for every interpreted architecture, major weights for the
    1-hidden-layer ones."""
    if not config["interpretation"]["enabled"]:
        return []
    out = []
    for arch in interpreted_architectures():
        out += [f"{RESULTS}/interpretation/{arch}/linear_fits.tsv"]
        out += [f"{RESULTS}/figures/linear_fits_{arch}.{ext}" for ext in ("png", "svg")]
        if arch.startswith("h1x"):
            for p in range(n_parts()):
                out += [f"{RESULTS}/interpretation/{arch}/part{p}/major_weights.tsv"]
                out += [f"{RESULTS}/figures/major_weights_{arch}_part{p}.{ext}" for ext in ("png", "svg")]
    return out


# inference.model -> the validation split its D-GEX is selected on (as the paper: GEO-va, or 1000G-va for RNA-Seq)
SELECTION_SPLITS = {"geo": "geo_va", "rnaseq": "g1000_va"}


def selection_inputs(wildcards):
    """Validation evaluations of every D-GEX of the grid, from which the architecture for inference is selected."""
    require_rnaseq(wildcards.model)
    return expand(f"{RESULTS}/evaluation/dgex_{{arch}}/{SELECTION_SPLITS[wildcards.model]}.tsv", arch=architectures())


def inference_architecture():
    """The architecture used for inference: inference.architecture, or (null) the one selected on validation, read from
    the select_architecture checkpoint (so only inside an input function)."""
    arch = config["inference"]["architecture"]
    if arch is None:
        selection = checkpoints.select_architecture.get(model=config["inference"]["model"]).output.selection
        arch = json.loads(Path(selection).read_text())["architecture"]
    if arch not in architectures():
        raise ValueError(f"inference.architecture={arch!r} is not in the dgex grid {architectures()}")
    return arch


def inference_input_file():
    """The GCT(X) of landmark profiles inference.input names (demo: the demo L1000 file)."""
    name = config["inference"]["input"]
    return f"{RESULTS}/l1000/demo_l1000.gctx" if name == "demo" else name


def inference_chip():
    """The L1000 chip of the bundles: inference.chip, the demo chip for demo data, or none (no Entrez ids)."""
    if config["inference"]["chip"]:
        return [config["inference"]["chip"]]
    return [f"{RESULTS}/l1000/demo.chip"] if config["data"]["source"] == "demo" else []


def bundle_inputs(wildcards):
    """Networks of every part, partition, statistics, training landmarks and gene maps of one inference bundle."""
    return {
        "models": [dgex_model_file(wildcards.arch, p, config["inference"]["model"]) for p in range(n_parts())],
        "partition": f"{RESULTS}/partitions/targets.tsv",
        "stats": f"{RESULTS}/standardized/geo_gene_stats.tsv",
        "qnorm": f"{RESULTS}/qnorm/geo.h5",
        "assignment": f"{RESULTS}/splits/assignment.tsv",
        "map_lm": raw_path("map_lm"),
        "map_tg": raw_path("map_tg"),
        "chip": inference_chip(),
    }


def inference_inputs(wildcards):
    """The bundle and the landmark profiles of an inference job."""
    return {"bundle": f"{RESULTS}/bundles/{wildcards.arch}/manifest.json", "profiles": inference_input_file()}


def inference_outputs(wildcards=None):
    """The inferred GCTX when inference.input names a file, else nothing (an input function of rule all)."""
    if not config["inference"]["input"]:
        return []
    stem = Path(inference_input_file()).name
    for suffix in (".gctx", ".gct"):
        stem = stem.removesuffix(suffix)
    stem = "".join(c if c.isalnum() or c in "_.-" else "_" for c in stem)
    return [f"{RESULTS}/inference/{inference_architecture()}/{stem}.gctx"]
