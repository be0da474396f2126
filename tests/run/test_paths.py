"""Nothing is ever written outside --output: names and revisions are folder names or refused."""

import pytest

from bge_eval.cli import main


@pytest.mark.parametrize("revision", ["../../escaped", "..", "a/b", " padded"])
def test_an_unsafe_revision_is_refused_and_nothing_is_written(tmp_path, tiny_bge, capsys, revision):
    out = tmp_path / "deep" / "out"
    code = main(["run", "--model", "BAAI/bge-small-en-v1.5", "--model-path", str(tiny_bge), "--revision", revision,
                 "--tasks", "BgeEvalDemoSTS", "--output", str(out), "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 2 and "--revision" in err and "not usable as a folder name" in err
    assert sorted(p.name for p in tmp_path.rglob("*")) == [], "something was written"


def test_a_model_name_with_dots_stays_inside_the_output(tmp_path, tiny_bge):
    out = tmp_path / "out"
    assert main(["run", "--model", "../../escaped", "--model-path", str(tiny_bge), "--tasks", "BgeEvalDemoSTS",
                 "--output", str(out), "--device", "cpu", "--no-embedding-cache"]) == 0
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert written and all(p.is_relative_to(out) for p in written)
    assert (out / "results" / "..__..__escaped").is_dir()
