"""A pool of GPUs shared by the training jobs of one machine: each job holds its devices by lock files (docs/training.md).

A job takes a free device before TensorFlow is imported and sets CUDA_VISIBLE_DEVICES to it; the lock is an
`fcntl.flock` on `<pool folder>/gpu-<device>.lock`, which the kernel releases when the holder exits in any way (end,
exception, SIGKILL), so a dead job's device is free again at once. Inside a SLURM job, or when CUDA_VISIBLE_DEVICES is
already set, the scheduler (or the user) has chosen the devices: they are kept as they are, and nothing is locked.
"""
from __future__ import annotations

import fcntl
import logging
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, MutableMapping, Sequence

log = logging.getLogger(__name__)

ENV = "CUDA_VISIBLE_DEVICES"
# one folder per machine, shared by every run and every user of it (two runs on one workstation share its GPUs)
DEFAULT_DIR = Path(tempfile.gettempdir()) / "dgex-gpu-pool"
WAIT_LOG_S = 300.0  # while every device is taken, say so again this often


@dataclass
class Lease:
    """The devices a job holds (empty: CUDA_VISIBLE_DEVICES left as it was), why, and the open lock files."""

    devices: list[str]
    reason: str
    fds: list[int] = field(default_factory=list, repr=False)

    def release(self) -> None:
        """Give the devices back (closing a lock file unlocks it; exiting the process does the same)."""
        if self.fds:
            log.info("GPU pool: gave back GPU %s", ",".join(self.devices))
        while self.fds:
            os.close(self.fds.pop())

    def __enter__(self) -> "Lease":
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def parse_gpu_list(text: str) -> list[str]:
    """Indices of the GPUs in the output of `nvidia-smi -L` ("GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-...)")."""
    return [m.group(1) for m in re.finditer(r"^GPU (\d+):", text, re.MULTILINE)]


def detect_gpus() -> list[str]:
    """Indices of the GPUs that `nvidia-smi -L` lists; none when it is missing or fails."""
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return parse_gpu_list(out)


def pool_devices(gpus: int | Sequence[int] | None, environ: Mapping[str, str] = os.environ) -> tuple[list[str], str]:
    """The devices to share out (device names as CUDA_VISIBLE_DEVICES takes them), or none with the reason.

    gpus (dgex.gpus): None finds them with nvidia-smi; a count N means devices 0..N-1; a list names them. With
    CUDA_VISIBLE_DEVICES given outside SLURM, a count or list indexes into the given devices.
    """
    given = environ.get(ENV)
    if environ.get("SLURM_JOB_ID"):
        return [], f"SLURM job {environ['SLURM_JOB_ID']}: {ENV}={given!r} kept as the scheduler set it"
    if gpus is None:
        if given is not None:
            return [], f"{ENV}={given!r} given: kept as it is (set dgex.gpus to share these devices out)"
        found = detect_gpus()
        return found, f"{len(found)} GPU(s) listed by nvidia-smi" if found else "no GPU listed by nvidia-smi: training on CPU"
    indices = list(range(gpus)) if isinstance(gpus, int) else [int(i) for i in gpus]
    if not indices:
        return [], f"dgex.gpus={gpus!r}: no device to share out ({ENV}={given!r} kept as it is)"
    if given is None:
        return [str(i) for i in indices], f"dgex.gpus={gpus!r}"
    entries = [e.strip() for e in given.split(",") if e.strip()]
    beyond = [i for i in indices if i >= len(entries)]
    if beyond:
        raise ValueError(f"dgex.gpus={gpus!r} names device(s) {beyond}, but {ENV}={given!r} gives {len(entries)}")
    return [entries[i] for i in indices], f"dgex.gpus={gpus!r} of {ENV}={given!r}"


def lock_path(folder: Path, device: str) -> Path:
    """The lock file of one device, e.g. gpu-0.lock (a GPU UUID works too)."""
    return folder / f"gpu-{re.sub(r'[^A-Za-z0-9_.-]', '_', device)}.lock"


def _lock_file(folder: Path, device: str) -> int:
    """Open (creating it, writable by every user) the lock file of one device; return its descriptor."""
    path = lock_path(folder, device)
    while True:
        try:
            return os.open(path, os.O_RDWR)  # no O_CREAT here: another user's file in a sticky folder refuses it
        except FileNotFoundError:
            pass
        except PermissionError:
            return os.open(path, os.O_RDONLY)  # flock needs no write access; the holder note is then skipped
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        os.fchmod(fd, 0o666)  # past the umask: every user's jobs share the machine's GPUs
        return fd


def _note_holder(fd: int) -> None:
    """Write who holds the lock into its file (read by a waiting job's log message)."""
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} since {time.strftime('%Y-%m-%dT%H:%M:%S')}\n".encode(), 0)
    except OSError:
        pass


def _holders(folder: Path, devices: Sequence[str]) -> str:
    """Who holds each device, from the notes in the lock files (for the log)."""
    notes = []
    for d in devices:
        try:
            notes.append(f"{d}: {lock_path(folder, d).read_text().strip() or '?'}")
        except OSError:
            notes.append(f"{d}: ?")
    return "; ".join(notes)


def make_folder(folder: Path) -> None:
    """Create the pool folder; one this process made is opened to every user, with the sticky bit, like /tmp."""
    try:
        folder.mkdir(parents=True)
    except FileExistsError:
        return
    os.chmod(folder, 0o1777)


def acquire(devices: Sequence[str], folder: str | os.PathLike = DEFAULT_DIR, take_all: bool = False,
            poll_s: float = 1.0, reason: str = "") -> Lease:
    """Hold one free device of `devices` (or every one of them, with `take_all`), waiting while they are taken."""
    folder = Path(folder)
    make_folder(folder)
    fds: dict[str, int] = {}
    try:
        if take_all:
            for d in devices:  # in one fixed order, so that two jobs that take all never hold one each and wait
                fd = fds[d] = _lock_file(folder, d)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    log.info("GPU pool: waiting for GPU %s (%s)", d, _holders(folder, [d]))
                    fcntl.flock(fd, fcntl.LOCK_EX)
                _note_holder(fd)
        else:
            fds = {d: _lock_file(folder, d) for d in devices}
            said = -WAIT_LOG_S
            t0 = time.monotonic()
            while True:
                free = next((d for d, fd in fds.items() if _try_lock(fd)), None)
                if free is not None:
                    break
                if time.monotonic() - t0 - said >= WAIT_LOG_S:
                    said = time.monotonic() - t0
                    log.info("GPU pool: all %d GPU(s) are taken, waiting (%s)", len(fds), _holders(folder, list(fds)))
                time.sleep(poll_s)
            for d in [d for d in fds if d != free]:
                os.close(fds.pop(d))
            _note_holder(fds[free])
    except BaseException:
        for fd in fds.values():
            os.close(fd)
        raise
    return Lease(list(fds), reason, list(fds.values()))


def _try_lock(fd: int) -> bool:
    """Lock the file if no other job holds it; never wait."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def lease(gpus: int | Sequence[int] | None = None, folder: str | os.PathLike | None = None, take_all: bool = False,
          environ: MutableMapping[str, str] = os.environ) -> Lease:
    """Take this job's device(s) from the machine's pool and set CUDA_VISIBLE_DEVICES; call before importing TensorFlow.

    Returns an empty lease (environment untouched) inside SLURM, with CUDA_VISIBLE_DEVICES given and dgex.gpus unset,
    or without GPUs.
    """
    if "tensorflow" in sys.modules:
        raise RuntimeError("gpu_pool.lease must run before TensorFlow is imported (it reads CUDA_VISIBLE_DEVICES once)")
    devices, reason = pool_devices(gpus, environ)
    if not devices:
        log.info("GPU pool: not used; %s", reason)
        return Lease([], reason)
    folder = Path(folder) if folder else DEFAULT_DIR
    try:
        held = acquire(devices, folder, take_all=take_all, reason=reason)
    except OSError as exc:
        raise OSError(f"dgex.gpu_pool_dir: cannot keep the GPU pool's lock files in {folder} ({exc}); "
                      "set dgex.gpu_pool_dir to a writable folder on a local disk") from exc
    environ[ENV] = ",".join(held.devices)
    log.info("GPU pool: took GPU %s of %s (%s; pool %s); %s=%s", ",".join(held.devices), ",".join(devices), reason,
             folder, ENV, environ[ENV])
    return held
