"""The GPU pool: concurrent training jobs of one machine each hold their own device, given back on exit or kill."""
from __future__ import annotations

import ast
import os
import re
import select
import shutil
import signal
import stat
import subprocess
import sys
import threading
from datetime import datetime
from pathlib import Path

import pytest

from helpers import REPO, run_snakemake, write_config
from dgex import gpu_pool

# a job of the pool: takes its device(s), prints them, holds them until its release file appears
HOLDER = r"""
import logging, sys, time
from pathlib import Path
from dgex import gpu_pool

logging.basicConfig(level=logging.INFO)
folder, gpus, mode, release = sys.argv[1], int(sys.argv[2]), sys.argv[3], Path(sys.argv[4])
lease = gpu_pool.lease(gpus, folder, take_all=mode == "all")
print("DEVICES", lease.devices, flush=True)
while not release.exists():
    time.sleep(0.02)
lease.release()
"""


def clean_env() -> dict[str, str]:
    """The environment of a workstation job: no scheduler, no CUDA_VISIBLE_DEVICES."""
    env = {k: v for k, v in os.environ.items() if k != gpu_pool.ENV and not k.startswith("SLURM_")}
    return env | {"PYTHONPATH": str(REPO / "workflow_scripts")}


class Holder:
    """A process holding device(s) of the pool in `folder`."""

    def __init__(self, folder: Path, gpus: int, name: str, mode: str = "one"):
        self.release_file = folder.parent / f"release-{name}"
        self.proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(folder), str(gpus), mode, str(self.release_file)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean_env())

    def devices(self, timeout: float) -> list[str] | None:
        """The devices it took, or None if it took none within `timeout` seconds (it is waiting)."""
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            assert self.proc.poll() is None, self.proc.stderr.read()
            return None
        line = self.proc.stdout.readline()
        assert line.startswith("DEVICES"), (line, self.proc.stderr.read() if self.proc.poll() is not None else "")
        return ast.literal_eval(line.split(" ", 1)[1])  # the list of device names the holder printed

    def release(self) -> None:
        self.release_file.touch()
        assert self.proc.wait(timeout=60) == 0, self.proc.stderr.read()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()


@pytest.fixture
def holders():
    started: list[Holder] = []
    yield started
    for h in started:
        h.kill()


def test_concurrent_jobs_get_distinct_devices_and_wait_when_all_are_taken(tmp_path, holders):
    pool = tmp_path / "pool"
    holders += [Holder(pool, 3, f"h{i}") for i in range(3)]
    got = [h.devices(timeout=60) for h in holders]
    assert sorted(d for ds in got for d in ds) == ["0", "1", "2"], got
    waiting = Holder(pool, 3, "late")
    holders.append(waiting)
    assert waiting.devices(timeout=2) is None, "a fourth job got a device while all three were held"
    freed = next(h for h, ds in zip(holders, got) if ds == ["1"])
    freed.release()
    assert waiting.devices(timeout=30) == ["1"]
    assert stat.S_IMODE(pool.stat().st_mode) == 0o1777  # shared by every user's runs, like /tmp
    assert stat.S_IMODE((pool / "gpu-1.lock").stat().st_mode) == 0o666


def test_a_killed_holders_device_is_taken_again(tmp_path, holders):
    pool = tmp_path / "pool"
    holder = Holder(pool, 1, "holder")
    holders.append(holder)
    assert holder.devices(timeout=60) == ["0"]
    waiting = Holder(pool, 1, "waiting")
    holders.append(waiting)
    assert waiting.devices(timeout=2) is None
    holder.kill()  # SIGKILL: no clean-up runs; the kernel drops the lock with the process
    assert waiting.devices(timeout=30) == ["0"]


def test_a_job_that_distributes_takes_every_device(tmp_path, holders):
    pool = tmp_path / "pool"
    single = Holder(pool, 2, "single")
    holders.append(single)
    assert single.devices(timeout=60) is not None
    spread = Holder(pool, 2, "spread", mode="all")
    holders.append(spread)
    assert spread.devices(timeout=2) is None, "took every device while one was held"
    single.release()
    assert spread.devices(timeout=30) == ["0", "1"]
    late = Holder(pool, 2, "late")
    holders.append(late)
    assert late.devices(timeout=2) is None
    spread.release()
    assert late.devices(timeout=30) in (["0"], ["1"])


def test_which_devices_are_shared_out():
    assert gpu_pool.pool_devices(2, {}) == (["0", "1"], "dgex.gpus=2")
    assert gpu_pool.pool_devices([1, 3], {"CUDA_VISIBLE_DEVICES": "4,5,6,7"})[0] == ["5", "7"]
    # a scheduler's (or the user's) choice is kept: inside SLURM always, and when dgex.gpus is not set
    assert gpu_pool.pool_devices(2, {"SLURM_JOB_ID": "42", "CUDA_VISIBLE_DEVICES": "3"})[0] == []
    assert gpu_pool.pool_devices(None, {"CUDA_VISIBLE_DEVICES": "1"})[0] == []
    assert gpu_pool.pool_devices(0, {})[0] == []
    with pytest.raises(ValueError, match=r"dgex.gpus=3 names device\(s\) \[2\], but CUDA_VISIBLE_DEVICES='4,5' gives 2"):
        gpu_pool.pool_devices(3, {"CUDA_VISIBLE_DEVICES": "4,5"})
    listing = ("GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-6b1c2d3e-0000-1111-2222-333344445555)\n"
               "GPU 1: NVIDIA H100 80GB HBM3 (UUID: GPU-7c2d3e4f-0000-1111-2222-333344445555)\n")
    assert gpu_pool.parse_gpu_list(listing) == ["0", "1"]


def test_the_environment_is_left_alone_without_a_pool(tmp_path, monkeypatch):
    monkeypatch.delitem(sys.modules, "tensorflow", raising=False)
    slurm = {"SLURM_JOB_ID": "42", "CUDA_VISIBLE_DEVICES": "3"}
    lease = gpu_pool.lease(2, tmp_path / "pool", environ=slurm)
    assert lease.devices == [] and slurm["CUDA_VISIBLE_DEVICES"] == "3" and not (tmp_path / "pool").exists()
    if shutil.which("nvidia-smi") is None:
        env: dict[str, str] = {}
        assert gpu_pool.lease(None, tmp_path / "pool", environ=env).devices == [] and env == {}  # CPU, as before
    env = {}
    with gpu_pool.lease(2, tmp_path / "pool", environ=env) as held:
        assert env == {"CUDA_VISIBLE_DEVICES": held.devices[0]}
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    with pytest.raises(OSError, match=r"dgex.gpu_pool_dir: cannot keep the GPU pool's lock files in .*/file/pool"):
        gpu_pool.lease(2, blocked / "pool", environ={})
    monkeypatch.setitem(sys.modules, "tensorflow", object())
    with pytest.raises(RuntimeError, match="before TensorFlow is imported"):
        gpu_pool.lease(2, tmp_path / "pool", environ={})


def test_waiting_for_a_device_is_logged_and_ends_when_it_is_given_back(tmp_path, caplog):
    caplog.set_level("INFO")
    first = gpu_pool.acquire(["0"], tmp_path)
    got: list[gpu_pool.Lease] = []
    waiter = threading.Thread(target=lambda: got.append(gpu_pool.acquire(["0"], tmp_path, poll_s=0.05)))
    waiter.start()
    waiter.join(timeout=1)
    assert waiter.is_alive() and not got
    assert re.search(r"all 1 GPU\(s\) are taken, waiting \(0: pid \d+ since", caplog.text), caplog.text
    first.release()
    waiter.join(timeout=30)
    assert got and got[0].devices == ["0"]
    got[0].release()


# --------------------------------------------------------------------------- in a Snakemake run
LOG_TIME = "%Y-%m-%d %H:%M:%S,%f"
TOOK = re.compile(r"^(\S+ \S+) INFO dgex\.gpu_pool: GPU pool: took GPU (\S+) of", re.MULTILINE)
GAVE = re.compile(r"^(\S+ \S+) INFO dgex\.gpu_pool: GPU pool: gave back GPU (\S+)$", re.MULTILINE)


@pytest.mark.slow
def test_snakemake_runs_training_jobs_on_distinct_devices(tmp_path):
    """4 training jobs, 2 (pretend) GPUs: never more than 2 at once, and jobs that overlap hold different devices."""
    archs = ["h1x8_d10", "h1x16_d10"]
    write_config(tmp_path, {"dgex": {"units": [8, 16], "gpus": 2, "gpu_pool_dir": str(tmp_path / "pool")}})
    targets = [f"results/tiny/models/dgex/{a}/part{p}/best_geo.keras" for a in archs for p in (0, 1)]
    # one thread per job, so only the GPU count limits how many train at once (4 cores would allow 4)
    run_snakemake(tmp_path, *targets, "--cores", "4", "--resources", "gpu=2", "--set-threads", "train_dgex=1")
    spans = []
    for log in sorted((tmp_path / "results/tiny/logs/train_dgex").glob("*.log")):
        text = log.read_text()
        took, gave = TOOK.search(text), GAVE.search(text)
        assert took and gave, f"{log.name} does not say which GPU it took and gave back:\n{text[:3000]}"
        assert took.group(2) == gave.group(2) and took.group(2) in ("0", "1"), (took.group(0), gave.group(0))
        spans.append((datetime.strptime(took.group(1), LOG_TIME), datetime.strptime(gave.group(1), LOG_TIME),
                      took.group(2), log.name))
    assert len(spans) == 4, spans
    overlaps = [(a, b) for i, a in enumerate(spans) for b in spans[i + 1:] if a[0] < b[1] and b[0] < a[1]]
    assert overlaps, f"no two training jobs ran at once: {spans}"
    for a, b in overlaps:
        assert a[2] != b[2], f"{a[3]} and {b[3]} ran at once on GPU {a[2]}"
    for start, *_ in spans:
        in_flight = sum(s <= start < e for s, e, *_ in spans)
        assert in_flight <= 2, f"{in_flight} training jobs at once with 2 GPUs: {spans}"


@pytest.mark.slow
def test_training_threads_share_the_cores_among_the_gpus(tmp_path):
    write_config(tmp_path)
    target = "results/tiny/models/dgex/h1x16_d10/part0/best_geo.keras"
    for gpus, threads in ((1, 4), (2, 2), (8, 1)):
        out = run_snakemake(tmp_path, target, "--dry-run", "--cores", "4", "--resources", f"gpu={gpus}").stdout
        job = re.search(r"^rule train_dgex:\n((?:[ \t]+.*\n)*)", out, re.MULTILINE)
        assert job, out[-3000:]
        shown = re.search(r"^\s+threads: (\d+)$", job.group(1), re.MULTILINE)  # Snakemake leaves out "threads: 1"
        assert (int(shown.group(1)) if shown else 1) == threads, (gpus, job.group(0))
