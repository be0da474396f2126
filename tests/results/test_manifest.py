"""The run manifest read back: a damaged one is never reset silently."""

from __future__ import annotations

import json
import logging

import pytest

from bge_eval.errors import DataError
from bge_eval.results.manifest import Manifest

pytestmark = pytest.mark.hermetic


def _manifest() -> Manifest:
    return Manifest(config={"model": "m"}, instruction=None, benchmark=None, skipped_tasks=[], versions={},
                    harness_git_revision=None)


def test_a_written_manifest_reads_back_equal(tmp_path):
    path = tmp_path / "bge_eval_manifest.json"
    manifest = _manifest()
    manifest.start_run(None)
    manifest.write(path)
    assert Manifest.read(path) == manifest


@pytest.mark.parametrize("content", ["{not json", json.dumps({"bge_eval_manifest": 1, "config": {}, "surprise": 1}),
                                     json.dumps({"bge_eval_manifest": 99, "config": {}})])
def test_a_damaged_manifest_is_an_error_naming_the_file(tmp_path, content):
    path = tmp_path / "bge_eval_manifest.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=str(path)):
        Manifest.read(path)


def test_a_run_moves_a_damaged_manifest_aside_and_says_where(tmp_path, caplog):
    path = tmp_path / "bge_eval_manifest.json"
    path.write_text("{not json", encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        assert Manifest.take_over(path) is None
    aside = [p for p in tmp_path.iterdir() if p.name.startswith("bge_eval_manifest.damaged-")]
    assert len(aside) == 1 and aside[0].read_text(encoding="utf-8") == "{not json" and not path.exists()
    assert str(path) in caplog.text and str(aside[0]) in caplog.text


def test_a_reader_leaves_a_damaged_manifest_in_place(tmp_path, caplog):
    path = tmp_path / "bge_eval_manifest.json"
    path.write_text("[]", encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        assert Manifest.read_or_warn(path) is None
    assert path.read_text(encoding="utf-8") == "[]" and str(path) in caplog.text
