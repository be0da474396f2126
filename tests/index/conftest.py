"""A real run with index variants (SciFact cut to 60 queries, all-MiniLM-L6-v2), shared by the index
stage's tests and the report's index section tests."""

from __future__ import annotations

import pytest

from bge_eval.cli import main

VARIANTS = ["int8", "binary-rescore:100", "ivf-flat:16:16", "dims:128"]


@pytest.fixture(scope="package")
def indexed(scifact_subset, tmp_path_factory):
    out = tmp_path_factory.mktemp("indexed")
    argv = ["run", "--tasks", "SciFact", "--data-dir", str(scifact_subset), "--output", str(out / "results-root"),
            "--embedding-cache", str(out / "cache"), "--device", "cpu", "--no-progress"]
    for variant in VARIANTS:
        argv += ["--index", variant]
    assert main(argv) == 0
    root = out / "results-root"
    (first,) = [p for p in root.glob("results/*/*") if "+index-" not in p.name]
    return root, first, argv
