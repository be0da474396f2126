"""What a user sees: the run's table names each metric, the folder to open and the next
commands; resumed tasks are said to be cached; one bar over tasks, no library bars; the
program name matches how the tool was called; the gate baselines every type of a run."""

import json
import subprocess
import sys
from pathlib import Path

from bge_eval.cli import main


def test_run_names_metric_folder_next_step_and_cached_tasks(shared_data, tmp_path, capsys):
    out_dir = tmp_path / "out"
    argv = ["run", "--tasks", "STSBenchmark", "--data-dir", str(shared_data), "--output", str(out_dir),
            "--no-embedding-cache"]
    assert main(argv) == 0
    first = capsys.readouterr()
    table = first.out.splitlines()
    header = next(line for line in table if line.startswith("task "))
    assert header.split()[:5] == ["task", "type", "split", "metric", "score"]
    assert any(line.startswith("STSBenchmark") and "cosine_spearman" in line and "computed" in line for line in table)
    assert f"results: {out_dir}/" in first.out
    assert f"next: python -m bge_eval report {out_dir}" in first.out
    assert f"gate --results {out_dir} --baseline baseline.json --write-baseline" in first.out
    bars = first.err.replace("\r", "\n")
    assert "tasks:" in bars and "1 computed" in bars
    assert "Loading weights" not in bars and "Evaluating task" not in bars
    assert main(argv) == 0
    again = capsys.readouterr().out
    assert "cached" in next(line for line in again.splitlines() if line.startswith("STSBenchmark"))
    assert "1 of 1 tasks already had results" in again and "--overwrite recomputes them" in again


def test_gate_baseline_over_demo_and_sts_gates_both(shared_data, tmp_path, capsys):
    out_dir = tmp_path / "out"
    assert main(["run", "--output", str(out_dir)]) == 0
    assert main(["run", "--tasks", "STSBenchmark", "--data-dir", str(shared_data), "--output", str(out_dir)]) == 0
    capsys.readouterr()
    baseline = tmp_path / "baseline.json"
    assert main(["gate", "--results", str(out_dir), "--baseline", str(baseline), "--write-baseline"]) == 0
    printed = capsys.readouterr().out
    gated = {e["task"]: e["metric"] for e in json.loads(baseline.read_text())["entries"]}
    assert gated["STSBenchmark"] == "cosine_spearman" and gated["BgeEvalDemoRetrieval"] == "ndcg_at_10"
    assert gated["BgeEvalDemoPairClassification"] == "cosine_ap" and len(gated) == 6
    assert "baseline: sentence-transformers/all-MiniLM-L6-v2 STSBenchmark test cosine_spearman = 0.82032" in printed
    assert main(["gate", "--results", str(out_dir), "--baseline", str(baseline), "--tasks", "STSBenchmark"]) == 0
    assert "paired bootstrap test over 1379 pairs" in capsys.readouterr().out


def test_help_names_the_program_as_called(tmp_path):
    script = Path(sys.executable).parent / "bge-eval"
    console = subprocess.run([str(script), "--help"], capture_output=True, text=True, check=True, cwd=tmp_path)
    assert console.stdout.startswith("usage: bge-eval")
    assert "bge-eval run --tasks STSBenchmark" in console.stdout
    module = subprocess.run([sys.executable, "-m", "bge_eval", "--help"], capture_output=True, text=True, check=True,
                            cwd=tmp_path)
    assert module.stdout.startswith("usage: python -m bge_eval")


def test_the_readmes_offline_commands_work_as_written(shared_data, tmp_path, monkeypatch, capsys):
    """The first block of README.md's "Command line": the bundled model on ../shared/data, from
    a folder beside the data, as on a fresh clone."""
    import shlex

    from tests.helpers import REPO

    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = text.split("## Command line", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    commands = [shlex.split(line.split("  #")[0]) for line in block.strip().splitlines()]
    assert len(commands) == 6 and all(c[:3] == ["python", "-m", "bge_eval"] for c in commands)
    (tmp_path / "shared").symlink_to(shared_data.parent)
    (tmp_path / "clone").mkdir()
    monkeypatch.chdir(tmp_path / "clone")
    for command in commands:
        assert main(command[3:]) == 0, command
    out = capsys.readouterr().out
    assert "gate: PASS" in out and "STSBenchmark" in out
    assert (tmp_path / "clone" / "results" / "report" / "index.html").is_file()


def test_printed_folders_can_be_pasted_from_where_the_command_ran(tmp_path, monkeypatch):
    """The run's "this model's files" folder, given --output relative to the working folder, exists
    as printed from there (not relative to --output)."""
    from bge_eval.report.console import format_run_summary
    from bge_eval.run.outcome import RunSummary

    folder = tmp_path / "out" / "results" / "org__model" / "rev"
    folder.mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    summary = RunSummary("org/model", "rev", Path("out") / "results" / "org__model" / "rev",
                         Path("out") / "predictions", [])
    printed = format_run_summary(summary, Path("out"))
    shown = printed.split("this model's files: ")[1].split(")")[0]
    assert shown == "out/results/org__model/rev/" and (tmp_path / shown).is_dir()
