"""Rule infer_l1000: infer every target gene of the landmark profiles inference.input names, streaming in chunks."""
from dgex import rulekit
from dgex.infer import InferenceSettings, infer_gctx
from dgex.logs import import_tensorflow
from dgex.target_reliability import WellInferredRule

SETTINGS = ("id_type", "normalization", "missing_landmarks", "max_missing", "compression")


def main(smk, log):
    tf = import_tensorflow()  # without its start-up notices on the console
    tf.config.threading.set_intra_op_parallelism_threads(smk.threads)
    # chunk_size says how fast, not what: a run option read from the config, so editing it reruns nothing
    settings = InferenceSettings(**{k: smk.params.inference[k] for k in SETTINGS},
                                 chunk_size=smk.config["inference"]["chunk_size"])
    rule = WellInferredRule.from_config(smk.params.inference["well_inferred"])
    report = infer_gctx(smk.input.profiles, smk.input.bundle, smk.output.profiles, settings, well_inferred=rule)
    log.info("%d profiles: %d measured rows passed through (%d not model inputs), %d targets inferred; ids: %s; "
             "imputed: %s; %.1f s",
             report.n_profiles, report.n_measured_rows, report.unused_rows, report.n_inferred_rows, report.id_type,
             report.imputed_landmarks or "none", report.seconds)


rulekit.run(snakemake, main)  # noqa: F821
