"""Run inside a network namespace holding only loopback, beside a Ray head started by
tests/run/test_ray.py: five runs through the real CLI against the head at argv[1], facts
written as JSON to argv[2]. argv[3:]: the two models as NAME=PATH, the data folder, then a data
folder with a cut of SciFact (300 documents) for the sharded run."""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ADDRESS, REPORT = sys.argv[1], Path(sys.argv[2])
MODELS = [arg.split("=", 1) for arg in sys.argv[3:5]]
DATA = sys.argv[5]
SUBSET = sys.argv[6]
WORK = REPORT.parent


def command(output: Path, tasks: list[str], *extra: str) -> list[str]:
    argv = [sys.executable, "-m", "bge_eval", "run", "--ray", ADDRESS, "--tasks", *tasks, "--data-dir", DATA,
            "--output", str(output), "--no-embedding-cache", "--no-progress", *extra]
    for name, path in MODELS:
        argv += ["--model", name, "--model-path", path]
    return argv


def unit_workers(function: bytes = b"evaluate_unit") -> list[int]:
    """Ray worker processes executing `function` (Ray titles them after it)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "cmdline").read_bytes().startswith(b"ray::" + function):
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def unit_started(pid: int) -> bool:
    """Proof a worker is inside its unit's run: the run's staging folder, named after the worker's
    pid, exists in the unit's private folder (made once the task is planned, before the model loads)."""
    return any((folder / ".staging" / str(pid)).is_dir()
               for folder in Path(tempfile.gettempdir()).glob("bge_eval-unit-*"))


def result_files(output: Path) -> list[str]:
    return sorted(str(p.relative_to(output)) for p in output.glob("results/*/*/*.json")
                  if p.name not in ("model_meta.json", "bge_eval_manifest.json"))


def committed_units(output: Path) -> list[str]:
    """Result files whose task the manifest beside them records: units the driver has finished
    (a result file alone may be one the driver was killed between placing and recording)."""
    done = []
    for name in result_files(output):
        try:
            manifest = json.loads((output / name).with_name("bge_eval_manifest.json").read_text())
        except (OSError, ValueError):
            continue
        if Path(name).stem in manifest.get("tasks", {}):
            done.append(name)
    return done


facts = {}

# 1. The sweep as is: compared with the same sweep run locally by the test.
done = subprocess.run(command(WORK / "sweep", ["BgeEvalDemoSTS", "BgeEvalDemoRetrieval"]), capture_output=True,
                      text=True)
facts["sweep"] = {"rc": done.returncode, "out": done.stdout, "err": done.stderr[-3000:]}

# 2. A worker killed during a unit: Ray runs the unit again; the driver commits it once.
sweep = subprocess.Popen(command(WORK / "killed", ["BIOSSES"]), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
killed = None
deadline = time.monotonic() + 240
while killed is None and sweep.poll() is None and time.monotonic() < deadline:
    started = [pid for pid in unit_workers() if unit_started(pid)]
    if started:
        os.kill(started[0], signal.SIGKILL)
        killed = started[0]
    time.sleep(0.05)
out, err = sweep.communicate(timeout=600)
facts["killed"] = {"rc": sweep.returncode, "out": out, "err": err[-3000:], "killed_pid": killed}

# 3. The driver killed after its first committed unit; the same command again.
argv = command(WORK / "resumed", ["BgeEvalDemoSTS", "BIOSSES"], "--ray-cpus-per-task", "2")
driver = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
deadline = time.monotonic() + 240
while not committed_units(WORK / "resumed") and driver.poll() is None and time.monotonic() < deadline:
    time.sleep(0.05)
driver.send_signal(signal.SIGKILL)
driver.wait()
before = {name: (WORK / "resumed" / name).stat().st_mtime_ns for name in committed_units(WORK / "resumed")}
again = subprocess.run(argv, capture_output=True, text=True)
after = {name: (WORK / "resumed" / name).stat().st_mtime_ns for name in result_files(WORK / "resumed")}
facts["resumed"] = {"rc": again.returncode, "out": again.stdout, "err": again.stderr[-3000:],
                    "before": before, "after": after}

# 4. SciFact's cut over 4 corpus shards (5 chunks of 64 documents), one shard worker killed once
# it has run a second: Ray runs that shard again; the test compares with a one-process run. With an
# index variant, made in the driver once the shards are merged.
name, path = MODELS[0]
argv = [sys.executable, "-m", "bge_eval", "run", "--ray", ADDRESS, "--tasks", "SciFact", "--data-dir", SUBSET,
        "--output", str(WORK / "sharded"), "--no-embedding-cache", "--no-progress", "--model", name,
        "--model-path", path, "--corpus-shards", "4", "--corpus-chunk", "64", "--index", "int8"]
started = time.monotonic()
sharded = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
killed, seen = None, {}
deadline = time.monotonic() + 240
while killed is None and sharded.poll() is None and time.monotonic() < deadline:
    for pid in unit_workers(b"search_shard"):
        seen.setdefault(pid, time.monotonic())
        if time.monotonic() - seen[pid] > 1.0:
            os.kill(pid, signal.SIGKILL)
            killed = pid
            break
    time.sleep(0.05)
out, err = sharded.communicate(timeout=600)
facts["sharded"] = {"rc": sharded.returncode, "out": out, "err": err[-3000:], "killed_pid": killed,
                    "wall_s": time.monotonic() - started}

# 5. bisect on Ray over the two models as two checkpoints: its first round is one sweep of both.
models_file = WORK / "checkpoints.toml"
models_file.write_text("".join(f'[[model]]\nname = "{name}"\npath = "{path}"\n\n' for name, path in MODELS))
argv = [sys.executable, "-m", "bge_eval", "bisect", "--ray", ADDRESS, "--models", str(models_file), "--tasks",
        "BgeEvalDemoSTS", "--output", str(WORK / "bisect"), "--no-embedding-cache", "--no-progress"]
bisected = subprocess.run(argv, capture_output=True, text=True, timeout=600)
facts["bisect"] = {"rc": bisected.returncode, "out": bisected.stdout, "err": bisected.stderr[-3000:]}

REPORT.write_text(json.dumps(facts, indent=1))
