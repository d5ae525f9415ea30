"""Training checkpoints: variables, momentum, best weights and the loop's state in one atomically written .npz."""
from __future__ import annotations

import json
import logging
import os
import zipfile
from dataclasses import asdict
from pathlib import Path

import numpy as np

from .architecture import Architecture
from .io import InputError
from .reproducible import write_npz
from .training import TrainSettings, TrainState

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = 2


def save_checkpoint(path: str | os.PathLike, state: TrainState, arch: Architecture, settings: TrainSettings,
                    variables: list, momenta: list, best_weights: dict[str, list[np.ndarray]]) -> None:
    """Variables, momentum, best weights and state (as JSON inside), one atomically written file."""
    record = asdict(state) | {"format": CHECKPOINT_FORMAT, "architecture": asdict(arch), "settings": asdict(settings)}
    arrays = {"state_json": np.frombuffer(json.dumps(record, sort_keys=True, default=float).encode(), dtype=np.uint8)}
    arrays |= {f"var_{i}": np.asarray(v) for i, v in enumerate(variables)}
    arrays |= {f"mom_{i}": np.asarray(v) for i, v in enumerate(momenta)}
    for crit, ws in best_weights.items():
        arrays |= {f"best_{crit}_{i}": w for i, w in enumerate(ws)}
    write_npz(path, arrays)


def load_checkpoint(path: str | os.PathLike, arch: Architecture, settings: TrainSettings,
                    shapes: list[tuple[int, ...]]) -> tuple[TrainState, dict[str, np.ndarray]] | None:
    """(state, arrays) of a checkpoint of the same architecture and settings; None if absent or made otherwise.

    `shapes` are those of the network's variables; a checkpoint that cannot be read or does not fit is an InputError.
    """
    path = Path(path)
    if not path.exists():
        return None
    n_vars = len(shapes)
    try:
        with np.load(path, allow_pickle=False) as z:
            state = json.loads(z["state_json"].tobytes().decode())
            # the epoch count does not change the path up to an epoch: a longer run continues a shorter one
            ours = json.loads(json.dumps(asdict(settings) | {"epochs": None}))
            if state.get("format") != CHECKPOINT_FORMAT or state["architecture"] != asdict(arch) or \
                    state["settings"] | {"epochs": None} != ours or state["epoch"] > settings.epochs:
                log.warning("checkpoint %s was made with other settings (or more epochs); starting afresh", path)
                return None
            arrays = {k: z[k] for k in z.files if k != "state_json"}
        expected = {f"var_{i}" for i in range(n_vars)} | {f"mom_{i}" for i in range(n_vars)}
        expected |= {f"best_{c}_{i}" for c in state["best"] for i in range(n_vars)}
        if set(arrays) != expected:
            raise ValueError(f"arrays {sorted(set(arrays) ^ expected)[:4]} missing or unexpected")
        for k, a in arrays.items():
            shape = tuple(shapes[int(k.rsplit('_', 1)[1])])
            if a.shape != shape or a.dtype != np.float32 or not np.isfinite(a).all():
                raise ValueError(f"array {k}: {a.dtype}{a.shape} (expected float32{shape}, finite)")
        new_state = TrainState(**{k: state[k] for k in asdict(TrainState())})
    except (OSError, ValueError, KeyError, TypeError, EOFError, json.JSONDecodeError, zipfile.BadZipFile) as exc:
        raise InputError(f"{path}: corrupt checkpoint ({type(exc).__name__}: {exc}); delete it to restart training") from exc
    return new_state, arrays
