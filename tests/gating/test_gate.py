"""The regression gate on real SciFact rankings (a 60-query subset, MiniLM)."""

import json
import shutil
from dataclasses import replace

import pytest

from bge_eval import api
from bge_eval.cli import main
from bge_eval.config import RunConfig
from bge_eval.metrics.detectable import detectable_mean_change
from bge_eval.models import resolve_model
from bge_eval.run.runner import run
from tests.helpers import MINILM


@pytest.fixture(scope="module")
def good_run(scifact_subset, tmp_path_factory):
    out = tmp_path_factory.mktemp("good")
    run(RunConfig(model=MINILM, tasks=("SciFact",), data_dir=scifact_subset, output=out, device="cpu"))
    return out


@pytest.fixture(scope="module")
def broken_run(scifact_subset, tmp_path_factory):
    """A deliberately broken encoder: CLS pooling on a mean-pooling model."""
    out = tmp_path_factory.mktemp("broken")
    resolved = resolve_model(MINILM)
    broken = replace(resolved, spec=replace(resolved.spec, pooling="cls"))
    run(RunConfig(model=MINILM, tasks=("SciFact",), data_dir=scifact_subset, output=out, device="cpu"),
        resolved=broken)
    return out


@pytest.fixture
def baseline(good_run, tmp_path):
    path = tmp_path / "baseline.json"
    assert main(["gate", "--results", str(good_run), "--baseline", str(path), "--write-baseline"]) == 0
    return path


def result_file(out):
    (path,) = out.rglob("SciFact.json")
    return path


def test_per_query_mean_equals_mteb_score(good_run):
    ndcg = json.loads(result_file(good_run).read_text())["scores"]["test"][0]["ndcg_at_10"]
    (per_query,) = good_run.rglob("SciFact_per_query.json")
    values = json.loads(per_query.read_text())["default"]["test"]
    assert len(values) == 60
    assert sum(v["ndcg_at_10"] for v in values.values()) / 60 == pytest.approx(ndcg, abs=1e-5)


def test_baseline_file_is_small_and_reviewable(baseline):
    data = json.loads(baseline.read_text())
    (entry,) = data["entries"]
    assert entry["model"] == MINILM and entry["task"] == "SciFact" and entry["metric"] == "ndcg_at_10"
    assert entry["tolerance"] == 0.005 and entry["dataset_revision"]
    assert len(json.loads(baseline.with_suffix(".per_query.json").read_text())) == 1


def test_equal_run_passes_with_ci_outputs(good_run, baseline, tmp_path, capsys):
    junit, summary = tmp_path / "gate.xml", tmp_path / "gate.md"
    code = main(["gate", "--results", str(good_run), "--baseline", str(baseline),
                 "--junit", str(junit), "--summary", str(summary)])
    assert code == 0 and "gate: PASS" in capsys.readouterr().out
    assert 'tests="1" failures="0" errors="0"' in junit.read_text()
    assert "| SciFact | test | ndcg_at_10 |" in summary.read_text()


def test_broken_encoder_fails_with_a_readable_reason(broken_run, baseline, tmp_path, capsys):
    junit = tmp_path / "gate.xml"
    code = main(["gate", "--results", str(broken_run), "--baseline", str(baseline), "--junit", str(junit)])
    out = capsys.readouterr().out
    assert code == 1
    line = next(line for line in out.splitlines() if line.startswith("[regression]"))
    assert "SciFact" in line and "baseline 0." in line and "new 0." in line and "delta -0." in line
    p_value = float(line.split("p=")[1].split(",")[0])
    assert p_value < 0.05
    assert 'failures="1"' in junit.read_text()
    # the smallest detectable drop: from the per-query changes the test itself used
    (verdict,) = api.gate(broken_run, baseline).verdicts
    (after_file,) = broken_run.rglob("SciFact_per_query.json")
    after = json.loads(after_file.read_text())["default"]["test"]
    sidecar = json.loads(baseline.with_suffix(".per_query.json").read_text())
    (before,) = sidecar.values()
    changes = [after[q]["ndcg_at_10"] - before[q] for q in sorted(before)]
    assert verdict.detectable == pytest.approx(detectable_mean_change(changes))
    assert f"drops below {verdict.detectable:.5f} are not detectable with these queries" in line


def shift(good_run, tmp_path, query_drops):
    """A copy of the good run with some queries' nDCG@10 lowered (result file kept consistent)."""
    out = tmp_path / "shifted"
    shutil.copytree(good_run, out)
    (per_query_file,) = out.rglob("SciFact_per_query.json")
    data = json.loads(per_query_file.read_text())
    values = data["default"]["test"]
    for query, drop in query_drops(sorted(values)).items():
        values[query]["ndcg_at_10"] -= drop
    per_query_file.write_text(json.dumps(data))
    path = result_file(out)
    result = json.loads(path.read_text())
    result["scores"]["test"][0]["ndcg_at_10"] = sum(v["ndcg_at_10"] for v in values.values()) / len(values)
    path.write_text(json.dumps(result))
    return out


def test_small_insignificant_drop_inside_tolerance_passes(good_run, baseline, tmp_path):
    shifted = shift(good_run, tmp_path, lambda qs: {qs[0]: 0.18})  # mean drop 0.003 < 0.005
    assert main(["gate", "--results", str(shifted), "--baseline", str(baseline)]) == 0
    # tighter tolerance: the drop is beyond it, but one query moving is not significant
    args = ["gate", "--results", str(shifted), "--baseline", str(baseline), "--max-drop", "0.001"]
    assert main(args) == 1
    assert main([*args, "--require-significance"]) == 0


def edit_baseline(path, **changes):
    data = json.loads(path.read_text())
    data["entries"][0].update(changes)
    path.write_text(json.dumps(data))


@pytest.mark.parametrize(
    "changes,message",
    [
        ({"task": "NFCorpus"}, "no result for this task"),
        ({"model": "BAAI/bge-small-en-v1.5"}, "the baseline is for BAAI/bge-small-en-v1.5"),
        ({"metric": "ndcg_at_7"}, "has no ndcg_at_7"),
        ({"dataset_revision": "0000"}, "dataset revision"),
    ],
)
def test_unusable_input_exits_2(good_run, baseline, changes, message, capsys):
    edit_baseline(baseline, **changes)
    assert main(["gate", "--results", str(good_run), "--baseline", str(baseline)]) == 2
    assert message in capsys.readouterr().out


def test_missing_baseline_file_exits_2(good_run, tmp_path, capsys):
    assert main(["gate", "--results", str(good_run), "--baseline", str(tmp_path / "none.json")]) == 2
    assert "--write-baseline" in capsys.readouterr().err


@pytest.mark.parametrize("max_drop", ["nan", "inf", "-0.1"])
def test_a_non_finite_or_negative_max_drop_is_refused(broken_run, baseline, max_drop, capsys):
    with pytest.raises(SystemExit) as refused:
        main(["gate", "--results", str(broken_run), "--baseline", str(baseline), "--max-drop", max_drop])
    assert refused.value.code == 2 and "--max-drop" in capsys.readouterr().err


@pytest.mark.parametrize("changes,message", [
    ({"tolerance": float("nan")}, "tolerance nan is not a finite number >= 0"),
    ({"tolerance": -0.01}, "tolerance -0.01 is not a finite number >= 0"),
    ({"value": "0.64"}, "value '0.64' is not a finite number"),
    ({"value": True}, "value True is not a finite number"),
    ({"metric": 7}, "metric must be a string"),
])
def test_a_baseline_that_cannot_be_compared_is_unusable_not_a_pass(broken_run, baseline, changes, message, capsys):
    """The broken encoder's regression must never pass because the baseline holds a NaN or a string."""
    edit_baseline(baseline, **changes)
    assert main(["gate", "--results", str(broken_run), "--baseline", str(baseline)]) == 2
    err = capsys.readouterr().err
    assert message in err and "entry" in err and "Traceback" not in err
