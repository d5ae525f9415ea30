# Helpers shared by the rules: config validation, paths, and the named input functions.

import itertools
import json
import math
import sys
import warnings
from pathlib import Path, PurePosixPath, PureWindowsPath

import yaml
from snakemake.utils import validate

SCHEMA = Path(workflow.current_basedir) / "../schemas/config.schema.yaml"
RUN_NAME_RULE = "a plain folder name under results/: letters, digits, '_', '-', '.', not only dots, no separators"


def check_run_name(name):
    """Refuse a run_name that is not one folder under results/ ('..' escapes it, '.' is results/ itself)."""
    # a separator (POSIX or Windows) makes `name` differ from its own last component
    if isinstance(name, str) and (
        not name.strip(".") or name != PurePosixPath(name).name or name != PureWindowsPath(name).name
    ):
        raise ValueError(f"run_name: {name!r} is not {RUN_NAME_RULE}")


def float_integers(value, schema, key=""):
    """(key, value) of every whole number written as a decimal where the schema wants an integer.

    JSON Schema (and Snakemake's validate) counts 1.0 as an integer, but NumPy seeds, ranges and job names do not.
    """
    types = schema.get("type", [])
    types = [types] if isinstance(types, str) else types
    if isinstance(value, float) and "integer" in types and "number" not in types:
        yield key, value
    elif isinstance(value, dict):
        extra = schema.get("additionalProperties")
        for k, v in value.items():
            sub = schema.get("properties", {}).get(k, extra if isinstance(extra, dict) else {})
            yield from float_integers(v, sub, f"{key}.{k}" if key else k)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, v in enumerate(value):
            yield from float_integers(v, schema["items"], f"{key}[{i}]")


check_run_name(config.get("run_name"))
validate(config, schema=str(SCHEMA))
_floats = list(float_integers(config, yaml.safe_load(SCHEMA.read_text())))
if _floats:
    raise ValueError("these settings must be integers, written without a decimal point: "
                     + ", ".join(f"{k}: {v!r} (write {int(v)})" for k, v in _floats))

# the library's own size checks also run at DAG time, whatever environment Snakemake itself runs in
sys.path.insert(0, str(Path(workflow.basedir) / "workflow_scripts"))
from dgex.dedup import check_n_clusters
from dgex.io import InputError, gctx_shape
from dgex.splits import split_sizes


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


def parse_architecture(name):
    """(layers, units, dropout) of an architecture name like h1x3000_d10."""
    shape, dropout = name[1:].split("_d")
    layers, units = shape.split("x")
    return int(layers), int(units), int(dropout) / 100


def architectures():
    """Every architecture of the configured grid, as wildcard names like h1x3000_d10."""
    d = config["dgex"]
    names = []
    for layers, units, dropout in itertools.product(d["layers"], d["units"], d["dropout"]):
        if abs(dropout * 100 - round(dropout * 100)) > 1e-9:
            raise ValueError(f"dgex.dropout: {dropout} must be a whole percent (0.1, 0.25, ...): it names the job, e.g. _d25")
        names.append(f"h{layers}x{units}_d{int(round(dropout * 100)):02d}")
    return names


# dgex settings that say where and how to run, not what to compute: changing them does not retrain
DGEX_RUN_OPTIONS = ("distribute", "memory_limit_gb", "gpus", "gpu_pool_dir")
# the architecture grid: each training job gets its own architecture (its wildcard), not the grid
DGEX_GRID = ("layers", "units", "dropout")


def dgex_learning_rate(layers):
    """dgex.learning_rate of a network with `layers` hidden layers: the number, the list's entry for that depth (its
    last for deeper ones), or null (the trainer's default: the paper's 5e-4 for one hidden layer, 3e-4 for more)."""
    lr = config["dgex"]["learning_rate"]
    return float(lr[min(layers, len(lr)) - 1]) if isinstance(lr, list) else lr


def dgex_training_settings(wildcards):
    """One training job's params: its own architecture, and the training settings with the learning rate of its depth
    (not the grid, not run options), so an edit reruns exactly the jobs it changes."""
    layers, units, dropout = parse_architecture(wildcards.arch)
    settings = {k: v for k, v in config["dgex"].items() if k not in DGEX_RUN_OPTIONS + DGEX_GRID}
    settings["learning_rate"] = dgex_learning_rate(layers)
    return settings | {"architecture": {"layers": layers, "units": units, "dropout": dropout}}


def train_threads():
    """Threads of a training job: every core, or an equal share when N GPUs train at once (resources: gpu: N)."""
    gpu = workflow.global_resources.get("gpu")
    n_gpus = gpu.value if gpu is not None and isinstance(gpu.value, int) else 1
    return max(1, workflow.cores // max(1, n_gpus))


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


# ---- Settings the schema cannot check alone, checked when the DAG is built (not after hours of training).
FIGURE_COLOR_KEYS = ["dgex", "lr", "lr_l1", "lr_l2", "knn"]  # figures.colors: dgex stands for every D-GEX


def check_figure_and_table_settings():
    """figures.colors/colormap/architectures and tables.dropout must fit matplotlib and the dgex grid."""
    import matplotlib
    import matplotlib.colors

    f, d = config["figures"], config["dgex"]
    errors = []
    for key, color in f["colors"].items():
        if key not in FIGURE_COLOR_KEYS:
            errors.append(f"figures.colors.{key}: no such method; colours are set for {FIGURE_COLOR_KEYS}")
        elif not matplotlib.colors.is_color_like(color):
            errors.append(f"figures.colors.{key}: {color!r} is not a matplotlib colour (a name like 'tab:red', or '#rrggbb')")
    if f["colormap"] not in matplotlib.colormaps:
        names = sorted(c for c in matplotlib.colormaps if not c.endswith("_r"))
        errors.append(f"figures.colormap: {f['colormap']!r} is not a matplotlib colormap; one of {names} (or one with _r)")
    grid = [f"{layers}x{units}" for layers, units in itertools.product(d["layers"], d["units"])]
    unknown = [a for a in f["architectures"] if a not in grid]
    if unknown:
        errors.append(f"figures.architectures: {unknown} not in the dgex grid (layers x units: {grid})")
    rates = sorted({round(r * 100) for r in d["dropout"]})
    if config["tables"]["dropout"] is not None and round(config["tables"]["dropout"] * 100) not in rates:
        errors.append(f"tables.dropout: {config['tables']['dropout']} is not a rate of dgex.dropout {d['dropout']}")
    if errors:
        raise ValueError("; ".join(errors))


def check_download_folders():
    """data.download.dir must not be, lie inside or hold a mirror folder: a forced rerun deletes outputs (the mirror's files)."""
    given = config["data"]["download"]["dir"]
    folder = Path(given).expanduser().resolve()
    for m in download_mirrors():
        mirror = Path(m).expanduser().resolve()
        if folder == mirror or folder.is_relative_to(mirror) or mirror.is_relative_to(folder):
            how = "is" if folder == mirror else "lies inside" if folder.is_relative_to(mirror) else "contains"
            raise ValueError(f"data.download.dir {given!r} ({folder}) {how} the mirror folder {m!r} of data.download.mirror: "
                             "Snakemake deletes a rule's outputs before it reruns, which would delete the mirror's files; "
                             "use a separate download folder")


check_figure_and_table_settings()
check_download_folders()


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


def baseline_solutions():
    """How LR was solved (unique or minimum-norm, models/lr/solution.json), for the tables to mark it; none without LR."""
    return [f"{RESULTS}/models/lr/solution.json"] if "lr" in config["baselines"]["methods"] else []


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


# ---- Small compendia: settings that cannot work at the data's size stop the run before its first job.
def geo_profiles_before_jobs():
    """(profiles, what) of GEO when cheap to know now: data.demo.n_geo, or an existing GCTX's header; else None."""
    if config["data"]["source"] == "demo" and not config["data"]["compendium"]:
        return config["data"]["demo"]["n_geo"], "the demo GEO (data.demo.n_geo)"
    path = raw_path("geo")
    try:
        return gctx_shape(path)[1], f"{path} (before deduplication)"
    except (InputError, OSError):
        return None  # not there yet (a download) or not a readable GCTX: the first job reading it says so


def check_data_size():
    """ValueError naming the setting when the compendium is too small for dedup.n_clusters or the split fractions."""
    known = geo_profiles_before_jobs()
    if known is None:
        return
    n, what = known
    if config["dedup"]["method"] == "kmeans":
        check_n_clusters(config["dedup"]["n_clusters"], n, what)
    split_sizes(n, config["splits"], what)


check_data_size()


# ---- Job resources: memory (MB) and wall time (minutes) that cluster schedulers reserve (README, "Running on a cluster").
# Evaluated when a job is ready, from its real input files; `attempt` grows them when Snakemake retries a job.
# `input.size_mb` (profiles/default, Snakemake's own disk default) cannot be evaluated inside Snakemake's running event
# loop (`--report` renders captions there): Snakemake then gives <TBD> as intended, but first builds the coroutine that
# would sum the sizes and leaves it unawaited, a RuntimeWarning per job. Only that message is silenced (docs/upstream.md).
warnings.filterwarnings(
    "ignore", r"coroutine 'InputFiles\._predicated_size_files\.<locals>\.sizes' was never awaited", RuntimeWarning
)

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

    layers, units, _ = parse_architecture(wildcards.arch)
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
