"""Cluster execution: profiles/default on the workstation, and the tiny demo through profiles/slurm on a real SLURM.

The SLURM test starts a throw-away single-node SLURM on this machine (tests/slurm/setup.sh: Debian's slurmctld,
slurmd and munge, installed with apt when missing), runs the workflow through `--profile profiles/slurm` plus the
CI override tests/slurm/ci, checks that every job ran as a SLURM job and that the results equal a local run's,
and stops exactly the daemons it started (tests/slurm/teardown.sh, by pid) whatever the outcome.
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest
import yaml

from helpers import REPO, SNAKEMAKE, TINY, deep_update, run_snakemake, write_config

SLURM_DIR = REPO / "tests" / "slurm"
LOCK = Path("/tmp/dgex-slurm-test.lock")  # one test SLURM per machine at a time (fixed ports, /etc/slurm)
# Outputs that must be byte-identical between the local and the SLURM run (figures carry no science of their own).
COMPARED = ["evaluation/**/*.tsv", "predictions/**/*.h5", "models/**/pred_*.h5", "models/lr/model.npz",
            "tables/*.tsv", "splits/*.h5", "partitions/targets.tsv"]


def sha256(path: Path) -> str:
    """Hex digest of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def compared_files(results: Path) -> dict[str, str]:
    """sha256 of every compared output under a run's results folder, by relative path."""
    return {str(p.relative_to(results)): sha256(p) for pattern in COMPARED for p in sorted(results.glob(pattern))}


def alive(pid: int, name: str) -> bool:
    """Whether `pid` still runs the program `name`."""
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip() == name
    except OSError:
        return False


def slurm_jobs(run_uuid: str) -> dict[str, dict[str, str]]:
    """The test SLURM's record of one Snakemake run's jobs (squeue keeps finished jobs for MinJobAge), by job id."""
    fields = {"id": "%i", "state": "%T", "comment": "%k", "min_memory": "%m", "time_limit": "%l", "cpus": "%C",
              "gres": "%b", "start": "%S", "end": "%e"}
    out = subprocess.run(["squeue", "--states=all", "--noheader", "--name", run_uuid,
                          "--format", "|".join(fields.values())], capture_output=True, text=True, check=True).stdout
    rows = [dict(zip(fields, line.split("|"))) for line in out.splitlines() if line.strip()]
    return {r["id"]: r for r in rows}


def recorded_daemons(state: Path) -> list[tuple[str, int]]:
    """(program, pid) of each daemon tests/slurm/setup.sh started, from its record in the state folder."""
    pids = state / "pids"
    return [(n, int(p)) for n, p in (ln.split() for ln in pids.read_text().splitlines() if ln.strip())] if pids.exists() else []


@pytest.fixture(scope="module")
def slurm_cluster(tmp_path_factory):
    """A running single-node SLURM; its daemons are stopped by their pids afterwards, whatever happens."""
    if os.geteuid() != 0:
        pytest.skip(f"a test SLURM needs root to start slurmctld, slurmd and munged (running as uid {os.geteuid()})")
    state = tmp_path_factory.mktemp("slurm_state")
    with open(LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        started: list[tuple[str, int]] = []
        try:
            proc = subprocess.run(["bash", str(SLURM_DIR / "setup.sh"), str(state)], capture_output=True, text=True,
                                  stdin=subprocess.DEVNULL, timeout=900)
            started = recorded_daemons(state)
            if proc.returncode == 77:
                pytest.skip(proc.stderr.strip().splitlines()[-1])
            assert proc.returncode == 0, \
                f"tests/slurm/setup.sh failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
            assert {n for n, _ in started} == {"munged", "slurmctld", "slurmd"}, f"setup.sh recorded {started}"
            yield state
        finally:
            started = started or recorded_daemons(state)  # also after a setup that timed out
            down = subprocess.run(["bash", str(SLURM_DIR / "teardown.sh"), str(state)], capture_output=True, text=True,
                                  stdin=subprocess.DEVNULL, timeout=300)
            left = [(n, p) for n, p in started if alive(p, n)]
            assert not left, f"teardown.sh left daemons running: {left}\n{down.stdout}\n{down.stderr}"


def snakemake_in(workdir: Path, *args: str) -> str:
    """Output of a quick Snakemake call (listing, dry run) on the workflow in `workdir`."""
    proc = subprocess.run(SNAKEMAKE + ["-s", str(REPO / "Snakefile"), "--directory", str(workdir), "--configfile",
                                       str(workdir / "config.yaml"), *args], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def ci_groups(workdir: Path) -> list[str]:
    """--groups packing the tiny run's many short jobs into two SLURM jobs: all before training, all after it.

    Training and the linear regression stay SLURM jobs of their own, with their derived resources. Fewer jobs only
    save the per-job submission and polling latency, which would dominate a run of tiny jobs.
    """
    rules = snakemake_in(workdir, "--list-rules").split()
    stats = snakemake_in(workdir, "--dry-run", "--quiet", "rules", "--until", "train_dgex")
    before = set(re.findall(r"^(\w+)\s+\d+$", stats, flags=re.M)) - {"total"}
    own = {"train_dgex", "fit_linear_regression", "all"}
    return [f"{r}={'prep' if r in before else 'post'}" for r in rules if r not in own]


@pytest.fixture(scope="module")
def slurm_run(slurm_cluster, tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """The tiny demo run through `--profile profiles/slurm --profile tests/slurm/ci` on the test SLURM."""
    workdir = tmp_path_factory.mktemp("slurm_run")
    write_config(workdir)
    cmd = SNAKEMAKE + ["-s", str(REPO / "Snakefile"), "--directory", str(workdir),
                       "--configfile", str(workdir / "config.yaml"),
                       "--profile", str(REPO / "profiles" / "slurm"), "--profile", str(SLURM_DIR / "ci"),
                       "--slurm-no-account", "--groups", *ci_groups(workdir), "--group-components", "prep=1000", "post=1000"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "SBATCH_", "SRUN_"))}
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=1500, env=env)
    assert proc.returncode == 0, f"SLURM run failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-8000:]}"
    return workdir, proc


def minutes(limit: str) -> float:
    """A SLURM time limit ([D-]HH:MM:SS or MM:SS) in minutes."""
    days, _, hms = limit.rpartition("-")
    parts = [int(x) for x in hms.split(":")]
    h, m, s = parts if len(parts) == 3 else [0, *parts]
    return (int(days or 0) * 24 + h) * 60 + m + s / 60


def ran_inside_slurm(logdir: Path) -> Counter:
    """Rule of every job that ran to completion inside a SLURM job, read from the SLURM logs.

    In a SLURM job the plugin's job step starts `srun snakemake --target-jobs <job> --allowed-rules <rule>` per job
    (one, or each member of a group); its log block ends with `Finished jobid: 0 (Rule: <rule>)`.
    """
    done: Counter = Counter()
    for p in logdir.rglob("*.log"):
        for block in p.read_text().split("  Command: ")[1:]:
            command = block.split("\n", 1)[0]
            rule = re.search(r"--allowed-rules (\w+) --", command)
            if "--executor slurm-jobstep" not in command and rule and f"Finished jobid: 0 (Rule: {rule[1]})" in block:
                done[rule[1]] += 1
    return done


def submissions(log: str) -> list[tuple[str, Path]]:
    """(SLURM job id, SLURM log) of every sbatch submission of a Snakemake run, from its log."""
    return [(j, Path(p)) for j, p in re.findall(r"has been submitted with SLURM jobid (\d+) \(log: (.+?)\)\.$", log, flags=re.M)]


def test_every_job_ran_as_a_slurm_job(slurm_run):
    workdir, proc = slurm_run
    log = proc.stderr
    logdir = workdir / ".snakemake" / "slurm_logs"
    submitted = submissions(log)
    assert submitted, log[-3000:]
    for slurm_id, path in submitted:
        assert path.is_file() and path.is_relative_to(logdir), f"SLURM log {path} of job {slurm_id} is missing"
    # every job of the run (but the target rule `all`, which runs nothing) completed inside a SLURM job
    finished = Counter(r for r in re.findall(r"^Finished jobid: \S+ \(Rule: (\w+)\)$", log, flags=re.M) if r != "all")
    assert finished["train_dgex"] == TINY["partitions"]["n_parts"] and finished["evaluate_predictions"] > 0, finished
    assert ran_inside_slurm(logdir) == finished
    # and SLURM itself ran them: its record of the run's jobs (job name = the run's id) lists each as completed
    jobs = slurm_jobs(re.search(r"SLURM run ID: (\S+)", log)[1])
    assert set(jobs) == {j for j, _ in submitted}, "squeue does not list the run's SLURM jobs"
    assert all(j["state"] == "COMPLETED" for j in jobs.values()), jobs
    assert all(j["gres"] in ("", "(null)", "N/A") for j in jobs.values()), "a job asked for GRES on a node without GPUs"


def test_jobs_got_the_resources_snakemake_derived(slurm_run):
    workdir, proc = slurm_run
    jobs = slurm_jobs(re.search(r"SLURM run ID: (\S+)", proc.stderr)[1])
    asked = {}
    for slurm_id, path in submissions(proc.stderr):
        rule = next((p for p in path.parts if p.startswith("rule_")), None)
        if rule is None:
            continue  # a group of jobs (tests/slurm/ci): SLURM got their combined resources
        # what Snakemake computed for the job, as its job step printed it, against what SLURM allocated
        res = re.search(r"^    resources: (.*)$", path.read_text(), flags=re.M)[1]
        mem, runtime = (int(re.search(rf"\b{k}=(\d+)", res)[1]) for k in ("mem_mb", "runtime"))
        job = jobs[slurm_id]
        assert job["min_memory"] == f"{mem}M", (rule, job, res)  # sbatch --mem
        assert minutes(job["time_limit"]) == runtime, (rule, job, res)  # sbatch -t
        asked.setdefault(rule, []).append((mem, job["cpus"]))
    assert len(asked["rule_train_dgex"]) == TINY["partitions"]["n_parts"], asked
    # training and the linear regression: their own estimates (rules/common.smk), not profiles/default's
    # default for a small job (max(2000, 3 x input MB) = 2000), and the CI override's two threads as CPUs
    assert all(mem > 2000 and cpus == "2" for mem, cpus in asked["rule_train_dgex"]), asked
    lr_jobs = asked["rule_fit_linear_regression"]
    assert [cpus for _, cpus in lr_jobs] == ["2"] and lr_jobs[0][0] != 2000


def test_slurm_results_equal_local_results(slurm_run, tiny_run):
    workdir, _ = slurm_run
    local = compared_files(tiny_run / "results" / "tiny")
    remote = compared_files(workdir / "results" / "tiny")
    assert any(k.startswith("predictions/dgex_") for k in local) and any(k.startswith("evaluation/lr/") for k in local)
    assert remote.keys() == local.keys()
    differing = sorted(k for k in local if local[k] != remote[k])
    assert not differing, f"outputs differ between the local and the SLURM run: {differing}"


def test_default_profile_runs_one_gpu_job_at_a_time(tiny_run, tmp_path):
    """Two ready training jobs (gpu=1 each) with free cores: profiles/default's gpu limit runs them one after the other."""
    shutil.copytree(tiny_run / "results", tmp_path / "results")  # copy2 keeps the times: upstream stays up to date
    shutil.copy(tiny_run / "config.yaml", tmp_path / "config.yaml")
    proc = run_snakemake(tmp_path, "--forcerun", "train_dgex", "--until", "train_dgex", "--set-threads", "train_dgex=1")
    events = re.findall(r"^((?:local)?rule train_dgex:|Finished jobid: \d+ \(Rule: train_dgex\))", proc.stderr, flags=re.M)
    # started, finished, started, finished: never two at once
    assert [not e.startswith("Finished") for e in events] == [True, False, True, False], events


def test_training_estimates_grow_with_architecture_and_data(tiny_run, tmp_path):
    """dgex_mem_mb and dgex_runtime (rules/common.smk) follow the network size and the epochs, on the real inputs."""
    def asked(dgex: dict) -> tuple[int, int]:
        cfg = tmp_path / f"config_{len(list(tmp_path.iterdir()))}.yaml"
        cfg.write_text(yaml.safe_dump(deep_update(TINY, {"dgex": dgex}), sort_keys=False))
        proc = subprocess.run(SNAKEMAKE + ["-s", str(REPO / "Snakefile"), "--directory", str(tiny_run), "--configfile",
                                           str(cfg), "--cores", "2", "--dry-run", "--nolock", "--forcerun", "train_dgex",
                                           "--until", "train_dgex"], capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-3000:]
        res = re.findall(r"rule train_dgex:.*?resources: ([^\n]*)", proc.stdout, flags=re.S)
        assert res, proc.stdout[-3000:]
        mem = max(int(re.search(r"\bmem_mb=(\d+)", r).group(1)) for r in res)
        runtime = max(int(re.search(r"\bruntime=(\d+)", r).group(1)) for r in res)
        return mem, runtime

    small = asked({"layers": [1], "units": [16], "epochs": 3})
    big = asked({"layers": [3], "units": [20000], "epochs": 3})  # 8e8 parameters: 22 GB of model state
    long = asked({"layers": [3], "units": [20000], "epochs": 3000})
    assert big[0] > small[0] + 20000 and big[1] >= small[1]
    assert long[0] == big[0] and long[1] > big[1]
