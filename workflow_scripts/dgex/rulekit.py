"""The frame every rule script runs in: logging to the rule's log, failure messages, provenance."""
from __future__ import annotations

import logging
import time
from typing import Any, Callable

from . import logs, provenance
from .io import remove_stale_temporaries


def run(smk: Any, body: Callable[[Any, logging.Logger], None],
        after: Callable[[Any, logging.Logger], None] | None = None) -> None:
    """Run `body(snakemake, log)`, log any failure with the rule's name, then write the provenance record.

    `after(snakemake, log)` runs once the outputs and the record are written, e.g. to delete the job's temporary state.
    """
    log = logs.setup(smk.log[0])
    started = time.time()
    remove_stale_temporaries(list(smk.output) + list(smk.log), log)  # logs too: training writes its epoch table atomically
    log.info("rule %s: inputs %s", smk.rule, list(smk.input))
    try:
        body(smk, log)
    except Exception as exc:
        log.error("rule %s failed: %s", smk.rule, exc)
        raise
    seed = smk.params.get("seed") if hasattr(smk.params, "get") else None
    provenance.from_snakemake(smk, started, seed)
    if after:
        after(smk, log)
    log.info("rule %s done in %.1f s", smk.rule, time.time() - started)
