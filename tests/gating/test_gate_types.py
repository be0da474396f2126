"""The gate on every task type: an STS task (paired bootstrap over pairs) and a classification
task (sign-flip test over examples), as task cards built from real data (STSBenchmark's first
300 pairs; ten Banking77 intents), MiniLM against a broken MiniLM (CLS pooling)."""

import json
from dataclasses import replace

import pytest

from bge_eval.cli import main
from bge_eval.config import RunConfig
from bge_eval.models import resolve_model
from bge_eval.run.runner import run
from tests.helpers import MINILM, sts_and_intent_cards

TASKS = ("GateSTS", "GateIntents")


@pytest.fixture(scope="module")
def cards(shared_data, tmp_path_factory):
    return sts_and_intent_cards(tmp_path_factory.mktemp("cards"), shared_data, "Gate")


def evaluate(cards, out, resolved=None):
    run(RunConfig(model=MINILM, tasks=cards, output=out, device="cpu", embedding_cache=False), resolved=resolved)
    return out


@pytest.fixture(scope="module")
def good_run(cards, tmp_path_factory):
    return evaluate(cards, tmp_path_factory.mktemp("good"))


@pytest.fixture(scope="module")
def broken_run(cards, tmp_path_factory):
    resolved = resolve_model(MINILM)
    return evaluate(cards, tmp_path_factory.mktemp("broken"),
                    replace(resolved, spec=replace(resolved.spec, pooling="cls")))


@pytest.fixture(scope="module")
def baseline(good_run, tmp_path_factory):
    path = tmp_path_factory.mktemp("baseline") / "baseline.json"
    assert main(["gate", "--results", str(good_run), "--baseline", str(path), "--write-baseline"]) == 0
    return path


def scores(out, task):
    (path,) = out.rglob(f"{task}.json")
    return json.loads(path.read_text())["scores"]["test"][0]


def test_per_example_accuracy_averages_to_mteb_accuracy(good_run):
    (path,) = good_run.rglob("GateIntents_per_example.json")
    values = json.loads(path.read_text())["default"]["test"]
    assert len(values) == 200
    accuracy = scores(good_run, "GateIntents")["accuracy"]
    assert sum(v["accuracy"] for v in values.values()) / 200 == pytest.approx(accuracy, abs=1e-9)


def test_baseline_gates_each_type_by_its_metric_with_per_item_results(baseline, capsys):
    entries = {e["task"]: e for e in json.loads(baseline.read_text())["entries"]}
    assert {t: (e["metric"], e["type"]) for t, e in entries.items()} == {
        "GateSTS": ("cosine_spearman", "STS"), "GateIntents": ("accuracy", "Classification")}
    sidecar = json.loads(baseline.with_suffix(".per_query.json").read_text())
    (sts_key,) = [k for k in sidecar if k.startswith(f"{MINILM}|GateSTS")]
    assert len(sidecar[sts_key]["pairs"]["scores"]) == 300
    (intent_key,) = [k for k in sidecar if k.startswith(f"{MINILM}|GateIntents")]
    assert len(sidecar[intent_key]) == 200


def test_same_results_pass_with_a_test_per_type(good_run, baseline, capsys):
    assert main(["gate", "--results", str(good_run), "--baseline", str(baseline)]) == 0
    out = capsys.readouterr().out
    assert "paired bootstrap test over 300 pairs" in out
    assert "one-sided sign-flip test over 200 examples" in out and "gate: PASS" in out


def test_broken_encoder_fails_each_type_with_significance(broken_run, baseline, good_run, capsys):
    summary = baseline.parent / "gate.md"
    assert main(["gate", "--results", str(broken_run), "--baseline", str(baseline), "--summary", str(summary),
                 "--require-significance"]) == 1
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("[regression]")]
    assert {line.split()[1] for line in lines} == set(TASKS)
    for line in lines:
        assert float(line.split("p=")[1].split(",")[0]) < 0.05
    assert scores(broken_run, "GateSTS")["cosine_spearman"] < scores(good_run, "GateSTS")["cosine_spearman"] - 0.005
    assert "| GateSTS | test | cosine_spearman |" in summary.read_text()


def test_unusable_input_per_type(good_run, baseline, tmp_path, capsys):
    damaged = tmp_path / "damaged"
    import shutil

    shutil.copytree(good_run, damaged)
    next(damaged.rglob("GateIntents.json")).unlink()
    assert main(["gate", "--results", str(damaged), "--baseline", str(baseline)]) == 2
    out = capsys.readouterr().out
    assert "[unusable] GateIntents (test, accuracy): no result for this task" in out
    assert main(["gate", "--results", str(good_run), "--baseline", str(baseline), "--tasks", "STSBenchmark"]) == 2
    err = capsys.readouterr().err
    assert "it holds GateIntents (accuracy), GateSTS (cosine_spearman)" in err and "--write-baseline" in err


def test_a_changed_per_item_file_is_not_trusted(good_run, baseline, tmp_path, capsys):
    """Per-item results that no longer give the result's number: gated on the number alone, said so."""
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(good_run, copy)
    path = next(copy.rglob("GateSTS_similarities.json"))
    data = json.loads(path.read_text())
    data["default"]["test"]["scores"].reverse()
    path.write_text(json.dumps(data))
    assert main(["gate", "--results", str(copy), "--baseline", str(baseline)]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if "GateSTS" in line)
    assert "no paired test: the per-item results give" in line
