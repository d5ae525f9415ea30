"""Target partitions: random halves (the paper), any number of parts, all jointly, clusters on training expression."""
from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from helpers import run_snakemake, write_config
from dgex.splits import check_partition, partition_targets

TARGETS = [f"g{i}" for i in range(101)]


def sizes(df: pd.DataFrame) -> list[int]:
    return df["part"].value_counts().sort_index().tolist()


def test_random_halves_are_seeded_equal_and_cover_every_target():
    a = partition_targets(TARGETS, "random", 2, seed=0)
    check_partition(a, TARGETS, 2)
    assert a["gene"].tolist() == TARGETS and sizes(a) == [51, 50]
    assert a.equals(partition_targets(TARGETS, "random", 2, seed=0))
    assert not a["part"].equals(partition_targets(TARGETS, "random", 2, seed=1)["part"])
    # not the first half and the second half: shuffled, as the paper's random split
    assert 10 < a["part"].iloc[:51].sum() < 41


@pytest.mark.parametrize("n", [1, 3, 7, 101])
def test_any_number_of_parts(n):
    df = partition_targets(TARGETS, "random", n, seed=4)
    check_partition(df, TARGETS, n)
    assert max(sizes(df)) - min(sizes(df)) <= 1 and len(sizes(df)) == n


def test_all_targets_jointly():
    df = partition_targets(TARGETS, "all", 5, seed=0)  # n_parts is ignored
    check_partition(df, TARGETS, 1)
    assert sizes(df) == [101]


def planted(n_profiles=300, seed=0):
    """Training targets from three expression programs (34, 33, 34 targets); the group of each target."""
    rng = np.random.default_rng(seed)
    group = np.repeat([0, 1, 2], [34, 33, 34])
    programs = rng.standard_normal((n_profiles, 3))
    Y = programs[:, group] + 0.3 * rng.standard_normal((n_profiles, len(group)))
    Y = (Y - Y.mean(0)) / Y.std(0)  # standardized, as the training split
    return Y.astype(np.float32), group


def same_grouping(a: np.ndarray, b: np.ndarray) -> bool:
    return len(set(zip(a.tolist(), b.tolist()))) == len(set(a.tolist())) == len(set(b.tolist()))


def test_clusters_recover_expression_programs():
    Y, group = planted()
    df = partition_targets(TARGETS, "cluster", 3, seed=0, Y_train=Y, balanced=False)
    check_partition(df, TARGETS, 3)
    assert same_grouping(df["part"].to_numpy(), group)
    # a subset of the training profiles is enough, and the result is seeded
    sub = partition_targets(TARGETS, "cluster", 3, seed=0, Y_train=Y, cluster_profiles=80, balanced=False)
    assert same_grouping(sub["part"].to_numpy(), group)
    assert sub.equals(partition_targets(TARGETS, "cluster", 3, seed=0, Y_train=Y, cluster_profiles=80, balanced=False))


def test_balanced_clusters_have_equal_sizes_and_follow_the_programs():
    Y, group = planted()
    Y = np.concatenate([Y, Y[:, :10] + 0.05], axis=1)  # program 0 now has 44 targets of 111
    targets = [f"t{i}" for i in range(Y.shape[1])]
    group = np.concatenate([group, np.zeros(10, int)])
    df = partition_targets(targets, "cluster", 3, seed=0, Y_train=Y, balanced=True)
    check_partition(df, targets, 3)
    assert sizes(df) == [37, 37, 37]
    # each part is dominated by one program
    tab = pd.crosstab(df["part"], group)
    assert (tab.max(axis=1) >= 33).all() and tab.idxmax(axis=1).nunique() == 3


def test_bad_partitions_are_named():
    with pytest.raises(ValueError, match="n_parts must be between 1 and the number of targets"):
        partition_targets(TARGETS, "random", 102, seed=0)
    with pytest.raises(ValueError, match="method must be one of"):
        partition_targets(TARGETS, "kmeans", 2, seed=0)
    with pytest.raises(ValueError, match="needs the training targets"):
        partition_targets(TARGETS, "cluster", 2, seed=0)
    good = partition_targets(TARGETS, "random", 2, seed=0)
    with pytest.raises(ValueError, match=r"1 left out \(e.g. \['g5'\]\), 0 counted twice"):
        check_partition(good[good["gene"] != "g5"], TARGETS)
    twice = pd.concat([good, good.iloc[[7]].assign(part=1 - good["part"].iloc[7])])
    with pytest.raises(ValueError, match=r"0 left out .* 1 counted twice \(e.g. \['g7'\]\)"):
        check_partition(twice, TARGETS)
    with pytest.raises(ValueError, match=r"1 unknown \(e.g. \['x'\]\)"):
        check_partition(pd.concat([good, pd.DataFrame({"gene": ["x"], "part": [0]})]), TARGETS)
    with pytest.raises(ValueError, match=r"parts are \[0, 2\], expected \[0, 1, 2\]"):
        check_partition(good.assign(part=good["part"] * 2), TARGETS, 3)


def test_partition_rule_writes_a_checked_partition(tiny_run, tmp_path):
    """The workflow's partition file for clustering, and a config asking for more parts than targets (on a tiny run's copy)."""
    shutil.copytree(tiny_run / "results", tmp_path / "results", symlinks=True)
    shutil.rmtree(tmp_path / "results/tiny/partitions")
    write_config(tmp_path, {"partitions": {"method": "cluster", "n_parts": 3}})
    run_snakemake(tmp_path, "results/tiny/partitions/targets.tsv")
    df = pd.read_csv(tmp_path / "results/tiny/partitions/targets.tsv", sep="\t")
    n = len(df)
    assert sizes(df) == [n // 3 + (i < n % 3) for i in range(3)] and df["gene"].is_unique
    write_config(tmp_path, {"partitions": {"method": "random", "n_parts": n + 1}})
    proc = run_snakemake(tmp_path, "results/tiny/partitions/targets.tsv", "--force", check=False)
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0 and f"partitions.n_parts must be between 1 and the number of targets ({n}), got {n + 1}" in text
