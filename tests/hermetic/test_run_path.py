"""The run path end to end on a checkpoint built here from nothing (tests/conftest.py: its own
vocabulary, random weights) and the bundled demo tasks: plan, encode, score, commit, resume, the
report, the gate, a failing task beside good ones, --fail-fast, a damaged manifest, a local sweep.
Needs neither ../shared, model weights nor a browser."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from xml.etree import ElementTree

import pytest

import bge_eval
from bge_eval.cli import main
from bge_eval.run.sweep import ModelEntry
from tests.conftest import build_bge_from_nothing
from tests.helpers import write_jsonl

pytestmark = pytest.mark.hermetic

MODEL = "BAAI/bge-small-en-v1.5"  # the identity results are stored under; the weights are built here
TASKS = ("BgeEvalDemoSTS", "BgeEvalDemoRetrieval")


def run_argv(checkpoint: Path, output: Path, *tasks: str, extra: tuple[str, ...] = ()) -> list[str]:
    return ["run", "--model", MODEL, "--model-path", str(checkpoint), "--tasks", *tasks, "--output", str(output),
            "--device", "cpu", "--embedding-cache", str(output.parent / "cache"), "--no-progress", *extra]


def result_files(output: Path) -> dict[str, Path]:
    return {p.stem: p for p in output.glob("results/*/*/*.json")
            if p.name not in ("model_meta.json", "bge_eval_manifest.json")}


def manifest_of(output: Path) -> dict:
    (path,) = output.glob("results/*/*/bge_eval_manifest.json")
    return json.loads(path.read_text(encoding="utf-8"))


def broken_card(root: Path) -> Path:
    """A PairClassification card whose second row's label is 5: unusable input, found when loaded."""
    folder = root / "BrokenPairs"
    folder.mkdir(parents=True)
    (folder / "task.toml").write_text('name = "BrokenPairs"\ntype = "PairClassification"\nlanguage = "eng"\n',
                                      encoding="utf-8")
    write_jsonl(folder / "test.jsonl", [{"sentence1": "the cat", "sentence2": "a cat", "label": 1},
                                        {"sentence1": "the sun", "sentence2": "the moon", "label": 5}])
    return folder


@pytest.fixture(scope="module")
def first_run(built_bge, tmp_path_factory):
    output = tmp_path_factory.mktemp("run-path") / "out"
    code = main(run_argv(built_bge, output, *TASKS))
    return code, output


def test_the_run_scores_and_commits_every_task(first_run):
    code, output = first_run
    assert code == 0
    results = result_files(output)
    assert set(results) == set(TASKS)
    for task in TASKS:
        scores = json.loads(results[task].read_text(encoding="utf-8"))["scores"]["test"][0]
        assert 0.0 <= scores["main_score"] <= 1.0 or -1.0 <= scores["main_score"] <= 1.0
    records = manifest_of(output)["tasks"]
    for task in TASKS:
        record = records[task]
        assert record["identity"]["weights"] and record["identity"]["data"]
        assert record["texts"]["encoded"] > 0 and set(record["phases"]) == {"load_s", "encode_s", "score_s", "write_s"}
    predictions = {p.name for p in output.glob("predictions/*/*/*")}
    assert {"BgeEvalDemoRetrieval_per_query.json", "BgeEvalDemoSTS_similarities.json"} <= predictions


def test_a_second_run_resumes_without_recomputing(first_run, built_bge, capsys):
    _, output = first_run
    before = {task: path.stat().st_mtime_ns for task, path in result_files(output).items()}
    capsys.readouterr()
    assert main(run_argv(built_bge, output, *TASKS)) == 0
    assert "2 of 2 tasks already had results" in capsys.readouterr().out
    assert {task: path.stat().st_mtime_ns for task, path in result_files(output).items()} == before


def test_the_report_and_the_gate_read_the_run(first_run, tmp_path):
    _, output = first_run
    assert main(["report", str(output), "--output", str(tmp_path / "report")]) == 0
    html = (tmp_path / "report" / "index.html").read_text(encoding="utf-8")
    assert all(task in html for task in TASKS)
    baseline = tmp_path / "baseline.json"
    assert main(["gate", "--results", str(output), "--baseline", str(baseline), "--write-baseline"]) == 0
    junit = tmp_path / "gate.xml"
    assert main(["gate", "--results", str(output), "--baseline", str(baseline), "--junit", str(junit)]) == 0
    suite = ElementTree.parse(junit).getroot()
    assert suite.get("tests") == "2" and suite.get("failures") == "0" and len(suite.findall("testcase")) == 2


def test_a_failing_task_is_reported_and_the_others_finish(built_bge, tmp_path, capsys):
    card = broken_card(tmp_path / "cards")
    output = tmp_path / "out"
    code = main(run_argv(built_bge, output, str(card), "BgeEvalDemoPairClassification"))
    err = capsys.readouterr().err
    assert code == 2  # the failure was unusable input
    assert f"bge_eval: error: {MODEL} BrokenPairs: " in err and "label must be 0 or 1" in err
    assert "1 of 2 task(s) failed" in err and "Traceback" not in err
    assert set(result_files(output)) == {"BgeEvalDemoPairClassification"}
    assert set(manifest_of(output)["tasks"]) == {"BgeEvalDemoPairClassification"}
    assert not (output / ".staging").exists()


def test_fail_fast_stops_at_the_first_failure(built_bge, tmp_path, capsys):
    card = broken_card(tmp_path / "cards")
    output = tmp_path / "out"
    code = main(run_argv(built_bge, output, str(card), "BgeEvalDemoPairClassification", extra=("--fail-fast",)))
    assert code == 2 and "label must be 0 or 1" in capsys.readouterr().err
    assert not output.exists()  # nothing computed, nothing left behind


def test_a_damaged_manifest_is_moved_aside_and_its_tasks_recomputed(first_run, built_bge, tmp_path, capsys, caplog):
    output = tmp_path / "out"
    shutil.copytree(first_run[1], output)
    (manifest,) = output.glob("results/*/*/bge_eval_manifest.json")
    manifest.write_text('{"bge_eval_manifest": 1, "config": {}, "tasks": {}, "unknown_key": 1}', encoding="utf-8")
    capsys.readouterr()
    assert main(run_argv(built_bge, output, *TASKS)) == 0
    captured = capsys.readouterr()
    (aside,) = manifest.parent.glob("bge_eval_manifest.damaged-*.json")
    assert str(manifest) in caplog.text and str(aside) in caplog.text  # the CLI's log goes to stderr
    assert "unknown_key" in aside.read_text(encoding="utf-8")
    assert set(manifest_of(output)["tasks"]) == set(TASKS)  # recomputed and recorded afresh
    assert "computed" in captured.out


def test_a_local_sweep_finishes_the_other_model_when_one_cannot_load(built_bge, tmp_path):
    broken = tmp_path / "broken-checkpoint"
    shutil.copytree(built_bge, broken)
    (broken / "model.safetensors").write_bytes(b"not a checkpoint")
    other = build_bge_from_nothing(tmp_path / "other", seed=1)
    sweep = bge_eval.sweep([ModelEntry(MODEL, broken, "broken"), ModelEntry(MODEL, other, "seed-1")],
                           ["BgeEvalDemoSTS"], output=tmp_path / "out", device="cpu", embedding_cache=None)
    assert sweep.exit_code == 2 and len(sweep.failures) == 1  # a damaged checkpoint is unusable input
    assert sweep.failures[0].task == "BgeEvalDemoSTS" and "--model-path" in sweep.failures[0].error
    broken_run, good_run = sweep.runs
    assert [o.status for o in broken_run.outcomes] == ["failed"] and broken_run.exit_code == 2
    assert [o.status for o in good_run.outcomes] == ["computed"] and good_run.score("BgeEvalDemoSTS") is not None


def test_two_sweep_entries_resolving_to_one_folder_are_refused_before_any_work(built_bge, tmp_path):
    """Two paths holding the same files resolve to one revision (weights by path are named by their
    content): two entries as written, one results folder: refused, nothing written."""
    from bge_eval.errors import BgeEvalError

    copy = shutil.copytree(built_bge, tmp_path / "copy")
    entries = [ModelEntry(MODEL, built_bge), ModelEntry(MODEL, copy)]
    with pytest.raises(BgeEvalError, match="resolve to the same results folder"):
        bge_eval.sweep(entries, ["BgeEvalDemoSTS"], output=tmp_path / "out", device="cpu", embedding_cache=None)
    assert not (tmp_path / "out").exists()


def test_a_result_of_another_mteb_version_is_recomputed_saying_so(first_run, built_bge, tmp_path, caplog):
    from importlib import metadata

    output = tmp_path / "out"
    shutil.copytree(first_run[1], output)
    (manifest_path,) = output.glob("results/*/*/bge_eval_manifest.json")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    assert manifest["tasks"]["BgeEvalDemoSTS"]["identity"]["code"]["mteb"] == metadata.version("mteb")
    manifest["tasks"]["BgeEvalDemoSTS"]["identity"]["code"]["mteb"] = "2.26.0-old"
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    assert main(run_argv(built_bge, output, *TASKS, extra=("--keep-results",))) == 2  # refused, not reused
    assert main(run_argv(built_bge, output, *TASKS)) == 0
    assert f"mteb 2.26.0-old -> {metadata.version('mteb')}" in caplog.text
    records = json.loads(manifest_path.read_text(encoding="utf-8"))["tasks"]
    assert records["BgeEvalDemoSTS"]["identity"]["code"]["mteb"] == metadata.version("mteb")


def test_a_rerun_with_every_task_cached_keeps_what_the_run_ran_on(first_run, built_bge, tmp_path):
    output = tmp_path / "out"
    shutil.copytree(first_run[1], output)
    before = manifest_of(output)
    assert before["device"]["device"] == "cpu" and before["precision"] == "fp32"
    assert main(run_argv(built_bge, output, *TASKS)) == 0
    after = manifest_of(output)
    assert len(after["runs"]) == len(before["runs"]) + 1
    assert (after["device"], after["precision"], after["packed"]) == (before["device"], "fp32", before["packed"])


def test_pair_classification_is_reported_by_cosine_ap_under_bges_recipe(built_bge, tmp_path):
    """As BGE's summarize_results published it, English too; mteb's max_ap under the mteb policy."""
    outcomes = {}
    for policy in ("bge", "mteb"):
        summary = bge_eval.evaluate(MODEL, ["BgeEvalDemoPairClassification"], model_path=built_bge,
                                    output=tmp_path / policy, device="cpu", embedding_cache=None,
                                    instruction_policy=policy)
        (outcome,) = summary.outcomes
        result = json.loads((summary.results_dir / "BgeEvalDemoPairClassification.json").read_text())
        outcomes[policy] = (outcome.metric, outcome.main_scores["test"], result["scores"]["test"][0])
    metric, score, entry = outcomes["bge"]
    assert metric == "cosine_ap" and score == pytest.approx(entry["cosine_ap"])
    metric, score, entry = outcomes["mteb"]
    assert metric == "main_score" and score == pytest.approx(entry["max_ap"])
