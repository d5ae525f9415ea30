"""Logging set-up shared by the rule scripts."""
from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import tempfile
from typing import Iterator

# TensorFlow's C++ start-up notices: absl's preamble, oneDNN being on, the CPU instructions it was not built for
TF_STARTUP_NOTICE = re.compile(r"WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
                               r"|I\d{4} [\d:.]+ +\d+ (port|cpu_feature_guard)\.cc:\d+\] .*"
                               r"|To enable the following instructions: .* rebuild TensorFlow with the appropriate .*")


def setup(log_file: str | None = None, level: int = logging.INFO) -> logging.Logger:
    """Log to `log_file` (the rule's log) and to stderr; return the 'dgex' logger."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file:
        handlers.append(logging.FileHandler(log_file, mode="w"))
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", handlers=handlers, force=True)
    logging.captureWarnings(True)
    return logging.getLogger("dgex")


@contextlib.contextmanager
def _stderr_without(notice: re.Pattern) -> Iterator[None]:
    """Hold back what the process (C++ included) writes to stderr in the block; then pass on every line but `notice` ones."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            lines = held.read().decode("utf-8", "replace").splitlines(keepends=True)
            sys.stderr.write("".join(line for line in lines if not notice.fullmatch(line.rstrip("\n"))))
            sys.stderr.flush()


def import_tensorflow():
    """TensorFlow, imported without its start-up notices on stderr unless the user set TF_CPP_MIN_LOG_LEVEL.

    TF_CPP_MIN_LOG_LEVEL=1 (its INFO lines off, warnings and errors on) hides most; the oneDNN notice and absl's
    preamble ignore it and are dropped by their exact text, so any other message still reaches stderr.
    """
    if "tensorflow" in sys.modules or "TF_CPP_MIN_LOG_LEVEL" in os.environ:
        import tensorflow

        return tensorflow
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "1"
    with _stderr_without(TF_STARTUP_NOTICE):
        import tensorflow
    return tensorflow
