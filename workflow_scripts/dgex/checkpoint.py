"""Training checkpoints: variables, momentum, best weights and the loop's state in one atomically written .npz, bound to
what made them (data, input files, code, settings), so that only the same job resumes one; removed when the job is done."""
from __future__ import annotations

import hashlib
import json
import logging
import os
import zipfile
from dataclasses import asdict
from pathlib import Path
from typing import Mapping

import numpy as np

from .architecture import Architecture
from .io import InputError
from .provenance import source_sha256
from .reproducible import write_npz
from .training import EvalSet, TrainSettings, TrainState

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = 3  # 3: bound to the data, the inputs and the code (binding_differences)
CHECKPOINT_NAME = "checkpoint.npz"


def arrays_sha256(*arrays: np.ndarray) -> str:
    """Hex sha256 of arrays' dtypes, shapes and values (what a network is trained or evaluated on)."""
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape};".encode())
        h.update(a.reshape(-1).view(np.uint8))
    return h.hexdigest()


def binding(arch: Architecture, settings: TrainSettings, n_replicas: int, criteria: Mapping[str, str], X_tr: np.ndarray,
            Y_tr: np.ndarray, eval_sets: list[EvalSet], inputs: Mapping[str, str] | None = None) -> dict:
    """What a checkpoint must have been made from to be resumed (JSON-normalized, as stored)."""
    return json.loads(json.dumps({
        "format": CHECKPOINT_FORMAT,
        "code": source_sha256(),
        "architecture": asdict(arch),
        "settings": asdict(settings) | {"epochs": None},  # a longer run continues a shorter one
        "replicas": n_replicas,  # each replica draws its own dropout masks
        "criteria": dict(criteria),
        "data": {"training": arrays_sha256(X_tr, Y_tr)} | {e.name: arrays_sha256(e.X, e.Y) for e in eval_sets},
        "inputs": dict(inputs or {}),
    }, sort_keys=True))


def binding_differences(stored: Mapping, ours: Mapping) -> list[str]:
    """Items of a checkpoint's binding that differ from this job's, e.g. 'inputs.train: 3f2a9c01e4b7.. -> 77d0e1a2b3c4..'."""
    def show(v):
        text = json.dumps(v, sort_keys=True) if not isinstance(v, str) else v
        return text if len(text) <= 16 else text[:12] + ".."

    out = []
    for key, ours_v in ours.items():
        theirs = stored.get(key)
        if isinstance(ours_v, Mapping) and isinstance(theirs, Mapping):
            out += [f"{key}.{k}: {show(theirs.get(k))} -> {show(ours_v.get(k))}"
                    for k in sorted(set(theirs) | set(ours_v)) if theirs.get(k) != ours_v.get(k)]
        elif theirs != ours_v:
            out.append(f"{key}: {show(theirs)} -> {show(ours_v)}")
    return out


def save_checkpoint(path: str | os.PathLike, state: TrainState, bound_to: dict, variables: list, momenta: list,
                    best_weights: dict[str, list[np.ndarray]]) -> None:
    """Variables, momentum, best weights and state (as JSON inside, with the binding), one atomically written file."""
    record = asdict(state) | {"binding": bound_to}
    arrays = {"state_json": np.frombuffer(json.dumps(record, sort_keys=True, default=float).encode(), dtype=np.uint8)}
    arrays |= {f"var_{i}": np.asarray(v) for i, v in enumerate(variables)}
    arrays |= {f"mom_{i}": np.asarray(v) for i, v in enumerate(momenta)}
    for crit, ws in best_weights.items():
        arrays |= {f"best_{crit}_{i}": w for i, w in enumerate(ws)}
    try:
        write_npz(path, arrays)
    except FileNotFoundError:  # a finished job removed an empty parent folder just as this one made it: once more
        write_npz(path, arrays)


def load_checkpoint(path: str | os.PathLike, bound_to: dict, epochs: int,
                    shapes: list[tuple[int, ...]]) -> tuple[TrainState, dict[str, np.ndarray]] | None:
    """(state, arrays) of a checkpoint made from this job's data, code and settings; None if absent or made otherwise.

    `shapes` are those of the network's variables; a checkpoint that cannot be read or does not fit is an InputError.
    """
    path = Path(path)
    if not path.exists():
        return None
    n_vars = len(shapes)
    try:
        with np.load(path, allow_pickle=False) as z:
            state = json.loads(z["state_json"].tobytes().decode())
            stored = state.get("binding") or {"format": state.get("format")}
            if not isinstance(stored, dict):
                raise ValueError(f"binding is {type(stored).__name__}, not a mapping")
            differ = binding_differences(stored, bound_to)
            if stored.get("format") != CHECKPOINT_FORMAT:
                differ = [f"format: {stored.get('format')} -> {CHECKPOINT_FORMAT} (made by an older version)"]
            if state["epoch"] > epochs:
                differ.append(f"epochs: it is after epoch {state['epoch']}, beyond dgex.epochs={epochs}")
            if differ:
                log.warning("checkpoint %s was not made from this job's data, code and settings; starting afresh. "
                            "Differs: %s", path, "; ".join(differ))
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


def remove_checkpoint(ckpt_dir: str | os.PathLike, top: str | os.PathLike | None = None) -> None:
    """Delete a job's checkpoint and temporaries of its writes, then its folder and empty parents up to `top` (inclusive)."""
    ckpt_dir = Path(ckpt_dir)
    (ckpt_dir / CHECKPOINT_NAME).unlink(missing_ok=True)
    for tmp in ckpt_dir.glob(f".tmp-*-{CHECKPOINT_NAME}"):  # left by a write that was killed (dgex.io.atomic_path)
        tmp.unlink(missing_ok=True)
    stop = Path(top).resolve() if top is not None else ckpt_dir.resolve()
    for folder in [ckpt_dir, *ckpt_dir.parents]:
        try:
            folder.rmdir()  # only an empty folder: another job's checkpoint folder stays
        except OSError:
            return
        if folder.resolve() == stop:
            return
