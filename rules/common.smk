# Helpers shared by the rules: config validation, paths, and the named input functions.

import json
import math
import sys
import warnings
from pathlib import Path

import yaml
from snakemake.utils import validate

sys.path.insert(0, f"{workflow.basedir}/workflow_scripts")  # the workflow's own dgex library, before any installed one

from dgex import layout, rulekit
from dgex.architecture import NAME_PATTERN, RESOURCE_MARGIN, Architecture, TrainingJob, grid
from dgex.artifacts import part_genes, read_partition
from dgex.dedup import check_n_clusters  # the library's own size checks also run at DAG time
from dgex.gctx import gctx_shape
from dgex.io import InputError
from dgex.splits import split_sizes
from dgex.target_reliability import WellInferredRule
from dgex.training import training_params

SCHEMA = Path(workflow.current_basedir) / "../schemas/config.schema.yaml"
PATH_SEPARATORS = "\\/"  # not written as "/" alone: snakemake --lint takes that for an absolute path
RUN_NAME_RULE = "a plain folder name under results/: letters, digits, '_', '-', '.', not only dots, no separators"


def check_run_name(name):
    """Refuse a run_name that is not one folder under results/ ('..' escapes it, '.' is results/ itself)."""
    if isinstance(name, str) and (not name.strip(".") or any(sep in name for sep in PATH_SEPARATORS)):
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
    raise ValueError(
        "these settings must be integers, written without a decimal point: "
        + ", ".join(f"{k}: {v!r} (write {int(v)})" for k, v in _floats)
    )


RESULTS = f"results/{config['run_name']}"
LOGS = f"{RESULTS}/logs"
BENCH = f"{RESULTS}/benchmarks"
SCRIPTS = "../workflow_scripts"
# files that several rules read (each through one checked reader of dgex.artifacts or dgex.matrix)
ASSIGNMENT = f"{RESULTS}/splits/assignment.tsv"
PARTITION = f"{RESULTS}/partitions/targets.tsv"
TRAIN_SPLIT_FILE = f"{RESULTS}/splits/{layout.TRAIN_SPLIT}.h5"
GENE_STATS = f"{RESULTS}/standardized/geo_gene_stats.tsv"
DEMO_CHIP = f"{RESULTS}/l1000/demo.chip"
PROBE_LEVEL = config["lincs_model"] == "probes"  # the probe-level LINCS model (docs/data.md); else the gene-level one

RAW_FILES = {
    "geo": "geo.gctx",
    "gtex": "gtex.gctx",
    "g1000": "g1000.txt.gz",
    "map_lm": "map_lm.txt",
    "map_tg": "map_tg.txt",
}
DOWNLOAD_SOURCES = ["geo", "gtex", "g1000", "map_lm", "map_tg"]


wildcard_constraints:
    dataset="|".join(layout.DATASETS),
    split="|".join(layout.SPLITS),
    arch=NAME_PATTERN,
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


def eval_splits():
    """The validation and test splits on which methods are scored."""
    return layout.eval_splits(config["data"]["rnaseq"])


def test_splits():
    """The test splits that tables and figures report."""
    return layout.test_splits(config["data"]["rnaseq"])


def architectures():
    """Every architecture of the configured grid, as wildcard names like h1x3000_d10."""
    d = config["dgex"]
    return [a.name for a in grid(d["layers"], d["units"], d["dropout"])]


def dgex_training_settings(wildcards):
    """One training job's params: its own architecture and the training settings (not the grid, not run options)."""
    return training_params(config["dgex"], Architecture.parse(wildcards.arch))


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


def rule_settings(section, *keys):
    """The named settings of a config section, as a rule's params (an edit of another setting reruns nothing)."""
    return {k: config[section][k] for k in keys}


def recorded(record=None, **outputs):
    """A script rule's outputs and its provenance record (dgex.rulekit's contract), by default `<first output>.prov.json`."""
    return outputs | {"provenance": record or f"{next(iter(outputs.values()))}.prov.json"}


def check_rule_contracts():
    """Fail before any job runs when a rule breaks the contract of dgex.rulekit (called at the end of the Snakefile)."""
    problems = rulekit.contract_problems(workflow.rules)
    if problems:
        raise ValueError("\n".join(problems))


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
    shapes = list(dict.fromkeys(a.shape for a in grid(d["layers"], d["units"], d["dropout"])))
    unknown = [a for a in f["architectures"] if a not in shapes]
    if unknown:
        errors.append(f"figures.architectures: {unknown} not in the dgex grid (layers x units: {shapes})")
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
            raise ValueError(
                f"data.download.dir {given!r} ({folder}) {how} the mirror folder {m!r} of data.download.mirror: "
                "Snakemake deletes a rule's outputs before it reruns, which would delete the mirror's files; "
                "use a separate download folder"
            )


def check_well_inferred_rule():
    """inference.well_inferred must be a valid rule, and a GTEx-te metric needs RNA-Seq data."""
    well = WellInferredRule.from_config(config["inference"]["well_inferred"])
    if well.split not in test_splits():
        raise ValueError(
            f"inference.well_inferred.metric: {well.metric} is measured on {layout.split_label(well.split)}, "
            "which needs data.rnaseq: true"
        )


def check_lincs_model():
    """lincs_model: probes needs a GEO-only run (RNA-Seq has no probes) and an L1000 chip naming the landmark probes."""
    if not PROBE_LEVEL:
        return
    if config["data"]["rnaseq"]:
        raise ValueError(
            "lincs_model: probes needs data.rnaseq: false: the probe-level model's targets are microarray probes, "
            "which RNA-Seq (GTEx, 1000 Genomes) does not measure (docs/data.md, 'The probe-level LINCS model')"
        )
    if config["inference"]["model"] == "rnaseq":
        raise ValueError("lincs_model: probes needs inference.model: geo (there is no RNA-Seq model without RNA-Seq data)")
    if not config["inference"]["chip"] and (config["data"]["source"] != "demo" or config["data"]["compendium"]):
        raise ValueError(
            "lincs_model: probes needs inference.chip: the L1000 chip file whose pr_type LM rows are the landmark probes "
            "(e.g. L1000_EPSILON.R1.chip); only the demo data (without data.compendium) has a chip of its own"
        )


check_figure_and_table_settings()
check_download_folders()
check_well_inferred_rule()
check_lincs_model()


def genes_input(wildcards):
    """Raw inputs of the gene-matrix rule for one dataset."""
    return {"data": raw_path(wildcards.dataset), "map_lm": raw_path("map_lm"), "map_tg": raw_path("map_tg")}


def geo_matrix():
    """GEO's matrix of landmarks and targets: genes (gene maps), or probes of the compendium for the probe-level model."""
    return f"{RESULTS}/probes/geo.h5" if PROBE_LEVEL else f"{RESULTS}/genes/geo.h5"


def qnorm_data_input(wildcards):
    """The gene (or probe) matrix a quantile-normalization job maps onto the reference."""
    return geo_matrix() if wildcards.dataset == "geo" else f"{RESULTS}/genes/{wildcards.dataset}.h5"


def split_input(wildcards):
    """The standardized dataset a split is cut from."""
    return f"{RESULTS}/standardized/{layout.dataset_of(wildcards.split)}.h5"


def train_eval_inputs(wildcards):
    """Split files a D-GEX job evaluates every epoch."""
    return {s: f"{RESULTS}/splits/{s}.h5" for s in eval_splits()}


def dgex_part_predictions(wildcards):
    """Per-part D-GEX predictions of one architecture on one split."""
    return expand(f"{RESULTS}/models/dgex/{wildcards.arch}/part{{part}}/pred_{wildcards.split}.h5", part=range(n_parts()))


def tuned_baseline_outputs(method):
    """A tuned baseline's validation curve, chosen hyper-parameters, predictions on every evaluation split, and record."""
    return recorded(
        curve=f"{RESULTS}/models/{method}/validation_curve.tsv",
        chosen=f"{RESULTS}/models/{method}/chosen.json",
        predictions=expand(f"{RESULTS}/predictions/{method}/{{split}}.h5", split=eval_splits()),
    )


def evaluation_files(split):
    """Per-gene evaluation tables of every method on one split."""
    return expand(f"{RESULTS}/evaluation/{{method}}/{split}.tsv", method=methods())


def summary_inputs(wildcards):
    """Per-gene evaluations of every method on a test split and on its validation split."""
    return {
        "test": evaluation_files(wildcards.split),
        "validation": evaluation_files(layout.VALIDATION_OF[wildcards.split]),
    }


def dropout_table_inputs(wildcards):
    """Per-gene evaluations of every method on the split of a supplementary (every dropout) table; baseline solutions."""
    return {"per_gene": evaluation_files(wildcards.split), "solutions": baseline_solutions()}


def summary_table_inputs(wildcards):
    """Table 1/2: the summary's evaluations, how the baselines were solved, and the gene roles (the paper's gene set?)."""
    return summary_inputs(wildcards) | {"solutions": baseline_solutions(), "genes": GENE_STATS}


def improvement_table_inputs(wildcards):
    """The improvement table's evaluations, how the baselines were solved, and the gene roles (the paper's gene set?)."""
    return improvement_inputs(wildcards) | {"solutions": baseline_solutions(), "genes": GENE_STATS}


def pearson_table_inputs(wildcards):
    """The Pearson table's evaluations and how the baselines were solved."""
    return pearson_inputs(wildcards) | {"solutions": baseline_solutions()}


def improvement_inputs(wildcards):
    """Per-gene evaluations of every method on each test split and its validation split, keyed by split."""
    keys = test_splits() + [layout.VALIDATION_OF[s] for s in test_splits()]
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
        "partition": PARTITION,
        "histories": expand(
            f"{RESULTS}/models/dgex/{{arch}}/part{{part}}/history.tsv", arch=architectures(), part=range(n_parts())
        ),
    }


def report_split_subcategory(wildcards):
    """Report subcategory of a per-split table or figure, e.g. 'GEO test (geo_te)'."""
    return f"{layout.SPLIT_TITLES[wildcards.split]} ({wildcards.split})"


def table_outputs(table, category, subcategory):
    """TSV, Markdown and HTML (in the report, captioned by report/<kind>_table.rst) of tables/<table>, and its record."""
    caption = f"../report/{table.removesuffix('_{split}')}_table.rst"
    html = report(f"{RESULTS}/tables/{table}.html", category=category, subcategory=subcategory, caption=caption)
    return recorded(tsv=f"{RESULTS}/tables/{table}.tsv", md=f"{RESULTS}/tables/{table}.md", html=html)


def figure_outputs(name, caption, category="Figures", subcategory=report_split_subcategory):
    """PNG (in the report, captioned by report/<caption>.rst) and SVG of figures/<name>, and its record."""
    png = f"{RESULTS}/figures/{name}.png"
    shown = report(png, category=category, subcategory=subcategory, caption=f"../report/{caption}.rst")
    return recorded(png=shown, svg=png.removesuffix(".png") + ".svg")


def table_settings(*keys):
    """The params of a table rule: the config.tables settings it reads."""
    return {"tables": rule_settings("tables", *keys)}


def figure_settings(*keys):
    """The params of a figure rule: the config.figures settings it reads."""
    return {"figures": rule_settings("figures", *keys)}


def final_outputs():
    """What `snakemake` builds by default: every table (TSV, Markdown, HTML), figure (PNG, SVG) and interpretation output
    (inference_outputs adds the inferred L1000 file)."""
    tables = [f"summary_{s}" for s in test_splits()] + [f"dropout_{s}" for s in eval_splits()]
    tables += ["improvement", "pearson", "well_inferred"]
    figures = [f"{fig}_{s}" for s in test_splits() for fig in ("architecture", "error_density", "scatter", "epochs")]
    figures += ["well_inferred"]
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
# The D-GEX model (parameter count, memory, runtime) is dgex.architecture's.
# `input.size_mb` (profiles/default, Snakemake's own disk default) cannot be evaluated inside Snakemake's running event
# loop (`--report` renders captions there): Snakemake then gives <TBD> as intended, but first builds the coroutine that
# would sum the sizes and leaves it unawaited, a RuntimeWarning per job. Only that message is silenced (docs/upstream.md).
warnings.filterwarnings(
    "ignore", r"coroutine 'InputFiles\._predicated_size_files\.<locals>\.sizes' was never awaited", RuntimeWarning
)


def matrix_shape(path):
    """(profiles, genes, landmarks) of an intermediate matrix file, read from its HDF5 header only."""
    import h5py

    Path(path).stat()  # FileNotFoundError naming the input: Snakemake shows <TBD> until the file exists
    with h5py.File(path, "r") as f:
        n_rows, n_genes = f["values"].shape
        return int(n_rows), int(n_genes), int(f.attrs["n_landmarks"])


def dgex_training_job(wildcards, input):
    """The sizes of one D-GEX training job (architecture, landmarks, part targets, profiles), from its inputs."""
    n_train, _, n_in = matrix_shape(input.train)
    n_out = len(part_genes(read_partition(input.partition), int(wildcards.part)))
    n_eval = min(config["dgex"]["monitor_size"], n_train) + sum(matrix_shape(input[s])[0] for s in eval_splits())
    return TrainingJob(Architecture.parse(wildcards.arch), n_in, n_out, n_train, n_eval)


def dgex_mem_mb(wildcards, input, attempt):
    """Host memory of a D-GEX training job: runtime, loaded matrices, device copies of its data, model state."""
    return dgex_training_job(wildcards, input).host_memory_mb(input.size_mb, attempt)


def dgex_runtime(wildcards, input, attempt):
    """Wall time of a D-GEX training job: its epochs' SGD and evaluations."""
    return dgex_training_job(wildcards, input).runtime_min(config["dgex"]["epochs"], attempt)


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
        if Architecture.parse(arch).layers == 1:  # major weights: one hidden layer only
            for p in range(n_parts()):
                out += [f"{RESULTS}/interpretation/{arch}/part{p}/major_weights.tsv"]
                out += [f"{RESULTS}/figures/major_weights_{arch}_part{p}.{ext}" for ext in ("png", "svg")]
    return out


def selection_inputs(wildcards):
    """Validation evaluations of every D-GEX of the grid, from which the architecture for inference is selected."""
    require_rnaseq(wildcards.model)
    return expand(f"{RESULTS}/evaluation/dgex_{{arch}}/{layout.CRITERIA[wildcards.model]}.tsv", arch=architectures())


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
    return [DEMO_CHIP] if config["data"]["source"] == "demo" else []


def demo_l1000_chip():
    """The chip whose landmark rows the demo L1000 profiles have: inference.chip, else the demo chip."""
    return config["inference"]["chip"] or DEMO_CHIP


def landmark_chip():
    """The chip whose landmark probes (pr_type LM) are the probe-level model's inputs (check_lincs_model: there is one)."""
    return inference_chip()[0]


def bundle_reliability_inputs(arch, criterion):
    """What the bundle's per-target reliability is computed from, per test split: the per-gene evaluation of its networks
    where they made it (the test splits of their criterion), else the split they predict; LR's model and evaluations."""
    own = layout.criterion_splits(criterion)
    lr = "lr" in config["baselines"]["methods"]
    return {
        "evaluation": [f"{RESULTS}/evaluation/dgex_{arch}/{s}.tsv" for s in test_splits() if s in own],
        "predict_on": [f"{RESULTS}/splits/{s}.h5" for s in test_splits() if s not in own],
        "lr_model": [f"{RESULTS}/models/lr/model.npz"] if lr else [],
        "lr_evaluation": [f"{RESULTS}/evaluation/lr/{s}.tsv" for s in test_splits()] if lr else [],
    }


def bundle_inputs(wildcards):
    """Networks of every part, partition, statistics, training landmarks, gene maps and reliability inputs of one bundle
    (and for the probe-level model the compendium, whose probe order is the output's row order)."""
    compendium = {"compendium": raw_path("geo")} if PROBE_LEVEL else {}
    return (
        bundle_reliability_inputs(wildcards.arch, config["inference"]["model"])
        | compendium
        | {
            "models": [dgex_model_file(wildcards.arch, p, config["inference"]["model"]) for p in range(n_parts())],
            "partition": PARTITION,
            "stats": GENE_STATS,
            "qnorm": f"{RESULTS}/qnorm/geo.h5",
            "assignment": ASSIGNMENT,
            "map_lm": raw_path("map_lm"),
            "map_tg": raw_path("map_tg"),
            "chip": inference_chip(),
        }
    )


def inference_inputs(wildcards):
    """The bundle and the landmark profiles of an inference job."""
    return {"bundle": f"{RESULTS}/bundles/{wildcards.arch}/manifest.json", "profiles": inference_input_file()}


def inference_params():
    """The inference settings that decide the output: every one but chunk_size (how fast), which the script reads from the
    config so that editing it reruns nothing."""
    return {k: v for k, v in config["inference"].items() if k != "chunk_size"}


def inference_outputs(wildcards=None):
    """The inferred GCTX when inference.input names a file, else nothing (an input function of rule all)."""
    if not config["inference"]["input"]:
        return []
    stem = Path(inference_input_file()).name
    for suffix in (".gctx", ".gct"):
        stem = stem.removesuffix(suffix)
    stem = "".join(c if c.isalnum() or c in "_.-" else "_" for c in stem)
    return [f"{RESULTS}/inference/{inference_architecture()}/{stem}.gctx"]
