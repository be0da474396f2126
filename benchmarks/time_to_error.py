"""How long a user waits for --help and for the one-line error of a mistyped option or name: each
command a fresh process (`python -m bge_eval ...`), best and median of --repeats, beside mteb's own
command line reaching the same kind of error (`python -m mteb run ...`) in the same run.

    python benchmarks/time_to_error.py             # 5 repeats each
    SMOKE=1 python benchmarks/time_to_error.py     # 1 repeat

Writes benchmarks/results/time_to_error_<machine>_<date>.json (SMOKE: /tmp/time_to_error_smoke.json).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HARNESS = [sys.executable, "-m", "bge_eval"]
CASES = {  # name: (the harness's command, mteb's command for the same mistake, or None)
    "help": (["--help"], None),
    "run --help": (["run", "--help"], ["run", "--help"]),
    "bad option value (--precision fp8)": (["run", "--precision", "fp8"], None),
    "unknown task name": (["run", "--tasks", "SciFakt"], ["run", "-m", "sentence-transformers/all-MiniLM-L6-v2",
                                                         "-t", "SciFakt"]),
    "unknown benchmark": (["run", "--benchmark", "MTEB(xyz)"], ["run", "-m", "sentence-transformers/all-MiniLM-L6-v2",
                                                              "-b", "MTEB(xyz)"]),
    "unknown task type": (["tasks", "--task-types", "Retreival"], ["run", "-m",
                                                                   "sentence-transformers/all-MiniLM-L6-v2",
                                                                   "--task-types", "Retreival"]),
    "data folder missing": (["run", "--tasks", "SciFact", "--data-dir", "/nonexistent"], None),
}
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}


def timed(command: list[str], cwd: Path) -> tuple[float, int, str]:
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=ENV, cwd=cwd, timeout=600)
    last = (done.stderr.strip().splitlines() or done.stdout.strip().splitlines() or [""])[-1]
    return time.perf_counter() - started, done.returncode, last[:200]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    repeats = 1 if os.environ.get("SMOKE") else args.repeats
    work = Path(tempfile.mkdtemp(prefix="time_to_error_"))  # nothing written into the checkout
    report: dict = {"benchmark": "time_to_error", "date": date.today().isoformat(), "cpus": os.cpu_count(),
                    "python": platform.python_version(), "repeats": repeats, "cases": {}}
    for name, (ours, theirs) in CASES.items():
        entry: dict = {}
        for side, command in (("bge_eval", HARNESS + ours), ("mteb", [sys.executable, "-m", "mteb", *theirs]
                                                               if theirs else None)):
            if command is None:
                continue
            runs = [timed(command, work) for _ in range(repeats)]
            walls = [wall for wall, _, _ in runs]
            entry[side] = {"command": command[1:], "best_s": round(min(walls), 3),
                           "median_s": round(statistics.median(walls), 3), "exit": runs[-1][1],
                           "last_line": runs[-1][2]}
        if "mteb" in entry:
            entry["bge_eval_over_mteb"] = round(entry["bge_eval"]["median_s"] / entry["mteb"]["median_s"], 3)
        report["cases"][name] = entry
        print(f"{name}: {json.dumps(entry)}", flush=True)
    machine = f"{platform.machine()}-{os.cpu_count()}cores"
    results = Path("/tmp/time_to_error_smoke.json") if os.environ.get("SMOKE") else \
        ROOT / "benchmarks" / "results" / f"time_to_error_{machine}_{date.today().isoformat()}.json"
    results.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"written: {results}")


if __name__ == "__main__":
    main()
