"""--output is the run's: a folder the user made keeps what it held after a failed run, and a
symbolic link inside it is never followed (issue 30, family 3). Hermetic: a checkpoint built here."""

from __future__ import annotations

from pathlib import Path

from bge_eval.cli import main

MODEL = "BAAI/bge-small-en-v1.5"


def argv(checkpoint: Path, output: Path, *tasks: str) -> list[str]:
    return ["run", "--model", MODEL, "--model-path", str(checkpoint), "--tasks", *tasks, "--output", str(output),
            "--device", "cpu", "--no-embedding-cache", "--no-progress"]


def every_path(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def test_a_failed_run_leaves_the_users_folder_as_it_was(built_bge, tmp_path, capsys):
    output = tmp_path / "mine"
    (output / "empty-subfolder").mkdir(parents=True)
    (output / "a-link").symlink_to(tmp_path / "elsewhere")
    before = every_path(output)
    card = tmp_path / "Broken"
    card.mkdir()
    (card / "task.toml").write_text('name = "Broken"\ntype = "STS"\nlanguage = "eng"\nscore_range = [0, 5]\n',
                                   encoding="utf-8")
    (card / "test.jsonl").write_text('{"sentence1": "a", "sentence2": "b", "score": "high"}\n', encoding="utf-8")
    assert main(argv(built_bge, output, str(card))) == 2
    assert "score must be a number" in capsys.readouterr().err
    assert every_path(output) == before and (output / "a-link").is_symlink()


def test_an_internal_folder_that_is_a_link_is_refused_and_nothing_is_written_outside(built_bge, tmp_path, capsys):
    outside = tmp_path / "outside"
    outside.mkdir()
    output = tmp_path / "out"
    output.mkdir()
    (output / "results").symlink_to(outside)
    assert main(argv(built_bge, output, "BgeEvalDemoSTS")) == 2
    err = capsys.readouterr().err
    assert f"{output / 'results'}: a symbolic link inside --output" in err
    assert list(outside.iterdir()) == []


def test_a_staging_link_is_replaced_never_followed(built_bge, tmp_path):
    outside = tmp_path / "outside"
    (outside / "keep").mkdir(parents=True)
    output = tmp_path / "out"
    output.mkdir()
    (output / ".staging").symlink_to(outside)
    assert main(argv(built_bge, output, "BgeEvalDemoSTS")) == 0
    assert every_path(outside) == {"keep"}
    assert not (output / ".staging").exists() and list(output.rglob("BgeEvalDemoSTS.json"))
