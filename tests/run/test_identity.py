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
    named = {"revision": "my-ft"}  # a revision given: both checkpoints claim one results folder
    first = run(RunConfig(**{**config(tmp_path, data, tiny_bge).__dict__, **named}))
    swapped = run(RunConfig(**{**config(tmp_path, data, other).__dict__, **named}))
    assert swapped.outcomes[0].status == "computed" and "the model's weights changed" in swapped.outcomes[0].note
    unnamed = run(config(tmp_path, data, other))  # no revision: a folder of their own, named by the files
    assert unnamed.results_dir != swapped.results_dir and unnamed.outcomes[0].status == "computed"
    fresh = run(RunConfig(**{**config(tmp_path, data, other).__dict__, "output": tmp_path / "fresh", **named}))
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


def test_a_second_stage_result_is_tied_to_the_reranker_and_the_first_stages_rankings(scifact_subset, tmp_path,
                                                                                      tiny_bge, minilm_path, caplog):
    """Reranked results are reused only for the same reranker weights, data, top-k and rankings."""
    import shutil

    from transformers import BertConfig, BertForSequenceClassification

    from bge_eval.run.second_stage import run_reranker

    def reranker(folder, seed):
        import torch

        torch.manual_seed(seed)
        BertForSequenceClassification(BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=1,
                                                 num_attention_heads=2, intermediate_size=64,
                                                 num_labels=1)).eval().save_pretrained(folder)
        for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
            shutil.copy(minilm_path / name, folder / name)
        return folder

    ckpt = reranker(tmp_path / "reranker", 0)
    cfg = RunConfig(model=MODEL, model_path=tiny_bge, tasks=("SciFact",), data_dir=scifact_subset,
                    output=tmp_path / "out", device="cpu", embedding_cache=None)
    first = run(cfg)

    def second_stage(first_summary, top_k=5):
        caplog.clear()
        summary = run_reranker(cfg, first_summary, "someone/reranker", ckpt, top_k=top_k)
        result = (summary.results_dir / "SciFact.json").stat()
        return summary, (result.st_ino, result.st_mtime_ns), caplog.text  # a recomputed file is a new file

    summary, made, _ = second_stage(first)
    assert second_stage(first)[1] == made  # same inputs: reused
    reranker(ckpt, 1)  # other reranker weights under the same name (given by path: another revision folder)
    resaved, remade, said = second_stage(first)
    assert remade != made and resaved.results_dir != summary.results_dir
    assert (summary.results_dir / "SciFact.json").is_file()  # the first reranker's result is kept
    _, _, said = second_stage(first, top_k=7)
    assert "top_k 5 -> 7" in said
    other = build_random_bert(tmp_path / "other-embedder", minilm_path, seed=3, hidden_size=64,
                              num_hidden_layers=2, num_attention_heads=4, intermediate_size=128)
    new_first = run(RunConfig(**{**cfg.__dict__, "model_path": other}))  # same name: new rankings
    _, _, said = second_stage(new_first, top_k=7)
    assert "the first stage's rankings changed" in said
    assert "second stage" not in second_stage(new_first, top_k=7)[2]  # and now reused
