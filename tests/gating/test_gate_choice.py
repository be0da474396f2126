"""The gate judges exactly the result a baseline entry names: one model, one revision, one run, on
the same data, with per-item files that reproduce their numbers (issue 30, family 1). On a checkpoint
built from nothing and the demo suite or a card: hermetic."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bge_eval.cli import main
from tests.helpers import write_jsonl

MODEL = "BAAI/bge-small-en-v1.5"


def run(checkpoint: Path, output: Path, task: str, *extra: str) -> None:
    assert main(["run", "--model", MODEL, "--model-path", str(checkpoint), "--tasks", task, "--output", str(output),
                 "--device", "cpu", "--no-embedding-cache", "--no-progress", *extra]) == 0


def gate(results: Path, baseline: Path, *extra: str) -> int:
    return main(["gate", "--results", str(results), "--baseline", str(baseline), *extra])


@pytest.fixture(scope="module")
def two_revisions(built_bge, tmp_path_factory) -> Path:
    """One output holding BgeEvalDemoSTS from the same model name at revisions r1 and r2."""
    output = tmp_path_factory.mktemp("gate-choice") / "out"
    for revision in ("r1", "r2"):
        run(built_bge, output, "BgeEvalDemoSTS", "--revision", revision)
    return output


def test_several_results_of_the_model_are_unusable_and_named(two_revisions, tmp_path, capsys):
    baseline = tmp_path / "baseline.json"
    assert gate(two_revisions, baseline, "--write-baseline") == 2
    assert "2 results of" in capsys.readouterr().err
    assert gate(two_revisions, baseline, "--write-baseline", "--revision", "r1") == 0
    capsys.readouterr()
    # the baseline names r1, and r1 is among the results: it is the one gated
    assert gate(two_revisions, baseline) == 0
    (entry,) = json.loads(baseline.read_text())["entries"]
    assert entry["revision"] == "r1" and entry["data"].startswith("files:")


def test_without_the_baseline_revision_the_choice_is_refused_until_asked(two_revisions, tmp_path, capsys):
    baseline = tmp_path / "baseline.json"
    assert gate(two_revisions, baseline, "--write-baseline", "--revision", "r1") == 0
    data = json.loads(baseline.read_text())
    data["entries"][0]["revision"] = "ft-0"  # a baseline written from another checkpoint
    baseline.write_text(json.dumps(data))
    capsys.readouterr()
    assert gate(two_revisions, baseline) == 2
    out = capsys.readouterr().out
    assert "2 results of" in out and "r1" in out and "r2" in out and "--revision" in out
    assert gate(two_revisions, baseline, "--revision", "r2") == 0


def test_an_edited_baseline_per_item_file_is_caught(two_revisions, tmp_path, capsys):
    baseline = tmp_path / "baseline.json"
    assert gate(two_revisions, baseline, "--write-baseline", "--revision", "r1") == 0
    sidecar = baseline.with_suffix(".per_query.json")
    stored = json.loads(sidecar.read_text())
    (key,) = stored
    stored[key]["pairs"]["scores"] = [s + 0.5 * (i % 2) for i, s in enumerate(stored[key]["pairs"]["scores"])]
    sidecar.write_text(json.dumps(stored))
    capsys.readouterr()
    assert gate(two_revisions, baseline, "--revision", "r1") == 2
    assert "(edited?)" in capsys.readouterr().out


def test_a_nan_in_a_per_item_file_is_unusable_and_named(built_bge, tmp_path, capsys):
    output = tmp_path / "out"
    run(built_bge, output, "BgeEvalDemoSTS")
    baseline = tmp_path / "baseline.json"
    assert gate(output, baseline, "--write-baseline") == 0
    (similarities,) = output.rglob("BgeEvalDemoSTS_similarities.json")
    data = json.loads(similarities.read_text())
    data["default"]["test"]["scores"][0] = float("nan")
    similarities.write_text(json.dumps(data))
    capsys.readouterr()
    assert gate(output, baseline) == 2
    out = capsys.readouterr().out
    assert str(similarities) in out and "non-finite value nan" in out and "p=" not in out


def test_a_card_whose_data_changed_is_unusable_not_a_regression(built_bge, tmp_path, capsys):
    card = tmp_path / "cards" / "MyPairs"
    card.mkdir(parents=True)
    (card / "task.toml").write_text('name = "MyPairs"\ntype = "STS"\nlanguage = "eng"\nscore_range = [0, 5]\n')
    rows = [{"sentence1": f"the {a} and the {b}", "sentence2": f"a {b} with a {a}", "score": i % 6}
            for i, (a, b) in enumerate([("cat", "dog"), ("sun", "moon"), ("car", "road"), ("tree", "fruit"),
                                         ("rain", "water"), ("sky", "blue"), ("apple", "banana"), ("date", "cherry")])]
    write_jsonl(card / "test.jsonl", rows)
    run(built_bge, tmp_path / "out", str(card))
    baseline = tmp_path / "baseline.json"
    assert gate(tmp_path / "out", baseline, "--write-baseline") == 0
    write_jsonl(card / "test.jsonl", [{**row, "score": 5 - row["score"]} for row in rows])  # the data changed
    run(built_bge, tmp_path / "out", str(card))
    capsys.readouterr()
    assert gate(tmp_path / "out", baseline) == 2
    assert "the task's data changed since the baseline" in capsys.readouterr().out


@pytest.mark.parametrize("option", ["--junit", "--summary"])
def test_an_output_naming_a_folder_is_refused_before_gating(two_revisions, tmp_path, option, capsys):
    assert gate(two_revisions, tmp_path / "b.json", option, str(tmp_path)) == 2
    err = capsys.readouterr().err
    assert f"{option} {tmp_path}: a folder" in err and "internal error" not in err
