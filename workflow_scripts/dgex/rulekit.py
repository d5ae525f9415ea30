"""The frame every rule script runs in: logging to the rule's log, failure messages, provenance.

The contract between rules and scripts, checked when the workflow is parsed (`contract_problems`, called at the end of
the Snakefile) and when a job starts (`run`): a script rule that writes files names one output `provenance`, its record;
a rule whose results depend on a seed declares it as `params.seed` and its script passes it to `run(..., seed=...)`.
"""
from __future__ import annotations

import logging
import time
from typing import Any, Callable, Iterable

from . import logs, provenance
from .io import remove_stale_temporaries

PROVENANCE_OUTPUT = "provenance"
SEED_PARAM = "seed"


def contract_problems(rules: Iterable[Any]) -> list[str]:
    """What breaks the contract among Snakemake rules: each script rule with outputs needs one named 'provenance'."""
    return [f"rule {r.name}: runs {r.script} and writes {list(r.output)} but has no output named '{PROVENANCE_OUTPUT}' "
            "(its provenance record, e.g. provenance=f\"{first output}.prov.json\")"
            for r in rules if r.script and len(r.output) and PROVENANCE_OUTPUT not in r.output.keys()]


def run(smk: Any, body: Callable[[Any, logging.Logger], None], seed: int | None = None,
        after: Callable[[Any, logging.Logger], None] | None = None) -> None:
    """Run `body(snakemake, log)`, log any failure with the rule's name, then write the provenance record.

    `seed` is the job's seed (its params.seed), recorded in the provenance; a rule with params.seed must pass it.
    `after(snakemake, log)` runs once the outputs and the record are written, e.g. to delete the job's temporary state.
    """
    log = logs.setup(smk.log[0])
    if SEED_PARAM in smk.params.keys() and seed is None:
        message = f"rule {smk.rule}: it has params.{SEED_PARAM}, but its script does not pass seed= to rulekit.run"
        log.error("%s", message)
        raise ValueError(message)
    started = time.time()
    remove_stale_temporaries(list(smk.output) + list(smk.log), log)  # logs too: training writes its epoch table atomically
    log.info("rule %s: inputs %s", smk.rule, list(smk.input))
    try:
        body(smk, log)
    except Exception as exc:
        log.error("rule %s failed: %s", smk.rule, exc)
        raise
    provenance.from_snakemake(smk, started, seed)
    if after:
        after(smk, log)
    log.info("rule %s done in %.1f s", smk.rule, time.time() - started)
