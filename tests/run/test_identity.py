"""A result is reused only when what produced it is the same: changed data or a swapped
checkpoint under the same name is recomputed (and the run says why); --keep-results refuses."""

import json
import os

import pytest

from bge_eval.cli import main
from bge_eval.config import RunConfig
from bge_eval.errors import BgeEvalError
from bge_eval.run.runner import run
from tests.conftest import build_random_bert
from tests.helpers import write_jsonl

MODEL = "BAAI/bge-small-en-v1.5"
WORDS = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu".split()


def sts_rows(shift=0):
    return [{"sentence1": " ".join(WORDS[(i + k) % 12] for k in range(6)),
             "sentence2": " ".join(WORDS[(i * 7 + k + shift) % 12] for k in range(5)),
             "score": float(i % 6)} for i in range(40)]


@pytest.fixture
def data(tmp_path):
    write_jsonl(tmp_path / "data" / "STS13" / "test.jsonl", sts_rows())
    return tmp_path / "data"


def config(tmp_path, data, checkpoint, **kw):
    return RunConfig(model=MODEL, model_path=checkpoint, tasks=("STS13",), data_dir=data, output=tmp_path / "out",
                     device="cpu", embedding_cache=None, **kw)


def score(summary):
    return summary.outcomes[0].main_scores["test"]


def test_changed_data_is_recomputed_with_the_reason(tmp_path, data, tiny_bge, caplog):
    first = run(config(tmp_path, data, tiny_bge))
    again = run(config(tmp_path, data, tiny_bge))
    assert again.outcomes[0].status == "cached" and again.outcomes[0].note is None
    file = data / "STS13" / "test.jsonl"
    os.utime(file, ns=(1, 1))  # touched, same bytes: still the same data
    assert run(config(tmp_path, data, tiny_bge)).outcomes[0].status == "cached"
    write_jsonl(file, sts_rows(shift=3))  # the user fixed their data
    fixed = run(config(tmp_path, data, tiny_bge))
    assert fixed.outcomes[0].status == "computed" and "the task's data changed" in fixed.outcomes[0].note
    assert "STS13: the saved result is recomputed: the task's data changed" in caplog.text
    fresh = run(RunConfig(**{**config(tmp_path, data, tiny_bge).__dict__, "output": tmp_path / "fresh"}))
    assert score(fixed) == score(fresh) != score(first)


def test_a_swapped_checkpoint_under_the_same_name_is_recomputed(tmp_path, data, tiny_bge, minilm_path):
    other = build_random_bert(tmp_path / "other-ckpt", minilm_path, seed=1, hidden_size=64, num_hidden_layers=2,
                              num_attention_heads=4, intermediate_size=128)
    first = run(config(tmp_path, data, tiny_bge))
    swapped = run(config(tmp_path, data, other))
    assert swapped.outcomes[0].status == "computed" and "the model's weights changed" in swapped.outcomes[0].note
    fresh = run(RunConfig(**{**config(tmp_path, data, other).__dict__, "output": tmp_path / "fresh"}))
    assert score(swapped) == score(fresh) != score(first)
    manifest = json.loads((swapped.results_dir / "bge_eval_manifest.json").read_text())
    assert manifest["tasks"]["STS13"]["identity"]["weights"] == json.loads(
        (fresh.results_dir / "bge_eval_manifest.json").read_text())["tasks"]["STS13"]["identity"]["weights"]


def test_keep_results_refuses_and_names_what_changed(tmp_path, data, tiny_bge, capsys):
    run(config(tmp_path, data, tiny_bge))
    write_jsonl(data / "STS13" / "test.jsonl", sts_rows(shift=5))
    with pytest.raises(BgeEvalError, match="made from other inputs.*the task's data changed"):
        run(config(tmp_path, data, tiny_bge, keep_results=True))
    code = main(["run", "--model", MODEL, "--model-path", str(tiny_bge), "--tasks", "STS13", "--data-dir", str(data),
                 "--output", str(tmp_path / "out"), "--device", "cpu", "--no-embedding-cache", "--keep-results"])
    err = capsys.readouterr().err
    assert code == 2 and "STS13.json: this result was made from other inputs" in err and "Traceback" not in err


def test_a_result_without_a_record_of_its_inputs_is_recomputed(tmp_path, data, tiny_bge):
    first = run(config(tmp_path, data, tiny_bge))
    manifest_file = first.results_dir / "bge_eval_manifest.json"
    manifest = json.loads(manifest_file.read_text())
    manifest["tasks"]["STS13"].pop("identity")  # as results of an earlier release
    manifest_file.write_text(json.dumps(manifest))
    again = run(config(tmp_path, data, tiny_bge))
    assert again.outcomes[0].status == "computed" and "no record of what produced it" in again.outcomes[0].note
    assert score(again) == score(first)
