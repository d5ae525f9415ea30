"""The checked readers of the tables rules hand to each other (dgex.artifacts): ids stay strings, bad files are named."""
from __future__ import annotations

import pytest

from dgex.artifacts import (part_genes, read_assignment, read_kept_profiles, read_partition, read_per_gene, read_reference,
                            split_samples)
from dgex.io import InputError


def write(path, text: str):
    path.write_text(text)
    return path


def test_sample_and_gene_ids_stay_strings(tmp_path):
    """Numeric-looking ids (a GEO-style 007, an Entrez-like gene id) are read as written, not as numbers."""
    kept = write(tmp_path / "geo_profiles.tsv", "sample\tkept\n007\t1\n008\t0\n1e3\t1\n")
    assert read_kept_profiles(kept) == ["007", "1e3"]
    a = read_assignment(write(tmp_path / "assignment.tsv", "sample\tsplit\n007\tgeo_te\n010\tgeo_tr\n011\tgeo_tr\n"))
    assert split_samples(a, "geo_tr") == ["010", "011"] and split_samples(a, "geo_te") == ["007"]
    p = read_partition(write(tmp_path / "targets.tsv", "gene\tpart\n0101\t1\n0102\t0\n"))
    assert part_genes(p, 1) == ["0101"] and part_genes(p, 0) == ["0102"]


@pytest.mark.parametrize("reader, text, message", [
    (read_assignment, "sample\tsplit\nA\tgeo_tr\nB\tgtex_te\n", r"unknown split\(s\) \['gtex_te'\]"),
    (read_assignment, "sample\tsplit\nA\tgeo_tr\nA\tgeo_va\n", r"sample 'A' is assigned twice"),
    (read_assignment, "sample\tset\nA\tgeo_tr\n", r"split assignment lacks column\(s\) \['split'\]"),
    (read_partition, "gene\tpart\nG1\t0.5\n", r"column 'part' must hold whole numbers"),
    (read_partition, "gene\tgroup\nG1\t0\n", r"target partition lacks column\(s\) \['part'\]"),
    (read_reference, "rank\nx\n", r"quantile reference lacks column\(s\) \['value'\]"),
    (read_per_gene, "gene\tmae\tpearson\nG1\tnan\t0.1\n", r"column mae has missing or non-finite values"),
    (read_per_gene, "", r"cannot read the per-gene evaluation table"),
])
def test_bad_tables_are_refused_naming_the_file(tmp_path, reader, text, message):
    path = write(tmp_path / "table.tsv", text)
    with pytest.raises(InputError, match=rf"{path}: .*{message}|{path}: {message}"):
        reader(path)
