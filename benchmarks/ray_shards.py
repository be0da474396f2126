"""One corpus over Ray workers: the scale benchmark's MSMARCO-shaped card (benchmarks/scale.py) run
by one local process, then on a local Ray head with every core (inside a network namespace holding
only loopback, as tests/run/test_ray.py) as one (model, task) unit and over 2 and 4 corpus shards;
same model (the tiny random BGE shape), same card, same run, no embedding cache.

Per way: wall time of the command, the task's phases from its manifest, and for sharded runs each
shard's wall and encode seconds (so a shard's fixed cost, wall minus encoding: worker start, model
and data load, fingerprints, the queries encoded again); rankings and nDCG@10 equal to the one
process's. Chunks of 10,000 passages in every way (a shard is whole chunks).

    python benchmarks/ray_shards.py            # 100k passages; needs root (unshare --net); ~10 min on 2 cores
    SMOKE=1 python benchmarks/ray_shards.py    # 2,000 passages

Writes benchmarks/results/ray_shards_<machine>_<date>.json (SMOKE: under --work).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from scale import ENV, ROOT, TASK, build_card  # noqa: E402 - the benchmark folder is on the path above

PORT = 6396
CHUNK = 10_000


def command(card: Path, model: Path, output: Path, chunk: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "bge_eval", "run", "--model", "BAAI/bge-base-en-v1.5", "--model-path", str(model),
            "--revision", "random-tiny", "--tasks", str(card), "--output", str(output), "--no-embedding-cache",
            "--no-progress", "--instruction-policy", "none", "--device", "cpu", "--corpus-chunk", str(chunk), *extra]


def facts(output: Path) -> dict:
    (manifest,) = output.rglob("bge_eval_manifest.json")
    record = json.loads(manifest.read_text())["tasks"][TASK]
    (result,) = output.rglob(f"{TASK}.json")
    return {"phases": record.get("phases"), "shards": record.get("shards"),
            "ndcg_at_10": json.loads(result.read_text())["scores"]["test"][0]["ndcg_at_10"]}


def rankings(output: Path) -> dict:
    (path,) = output.rglob(f"{TASK}_predictions.json")
    return json.loads(path.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--shards", type=int, nargs="+", default=[2, 4])
    parser.add_argument("--work", type=Path, default=Path("/tmp/bge_eval_scale"))
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    smoke = bool(os.environ.get("SMOKE"))
    docs, chunk = (2000, 500) if smoke else (args.docs, CHUNK)
    from encode_throughput import default_tokenizer_dir
    from end_to_end import random_bge

    tokenizer = default_tokenizer_dir()
    model = args.work / "bge-tiny-random"
    if not (model / "modules.json").is_file():
        random_bge("tiny", model, tokenizer)
    card = build_card(args.work / f"card-{docs}", docs, tokenizer)
    runs = args.work / f"ray-shards-{docs}"
    shutil.rmtree(runs, ignore_errors=True)
    runs.mkdir(parents=True)
    cores = os.cpu_count() or 1

    started = time.perf_counter()
    subprocess.run(command(card, model, runs / "local", chunk), check=True, capture_output=True, env=ENV, cwd=ROOT)
    local_s = time.perf_counter() - started

    ray = Path(sys.executable).parent / "ray"
    ways = [("unit", ["--ray", f"127.0.0.1:{PORT}"])] + [
        (f"shards-{n}", ["--ray", f"127.0.0.1:{PORT}", "--corpus-shards", str(n)]) for n in args.shards]
    timed = " ".join(f"s=$(date +%s.%N); {' '.join(repr(a) for a in command(card, model, runs / name, chunk, *extra))}"
                     f" > '{runs}/{name}.log' 2>&1; echo {name} $s $(date +%s.%N);" for name, extra in ways)
    script = (f"set -e; ip link set lo up; export RAY_USAGE_STATS_ENABLED=0 HOME='{runs}/home'; mkdir -p \"$HOME\"; "
              f"unset RAY_ADDRESS RAY_AUTH_TOKEN; '{ray}' start --head --port {PORT} --num-cpus {cores} "
              f"--include-dashboard=false --disable-usage-stats --node-ip-address 127.0.0.1 > /dev/null 2>&1; "
              f"trap \"'{ray}' stop --force > /dev/null 2>&1\" EXIT; {timed}")
    done = subprocess.run(["unshare", "--net", "--pid", "--fork", "--mount-proc", "bash", "-c", script],
                          capture_output=True, text=True, env=ENV, cwd=ROOT)
    if done.returncode != 0:
        logs = "".join(log.read_text()[-2000:] for log in sorted(runs.glob("*.log")))
        sys.exit(f"the Ray runs failed: {done.stderr[-2000:]}\n{logs}")
    walls = {line.split()[0]: float(line.split()[2]) - float(line.split()[1]) for line in done.stdout.splitlines()
             if line.split() and line.split()[0] in dict(ways)}

    reference = rankings(runs / "local")
    out: dict = {"benchmark": "ray_shards", "machine": f"{platform.machine()}, {cores} cores",
                 "date": date.today().isoformat(), "docs": docs, "chunk_docs": chunk, "queries": len(reference),
                 "local": {"wall_s": round(local_s, 2), **facts(runs / "local")}}
    for name, _ in ways:
        way = {"wall_s": round(walls[name], 2), **facts(runs / name)}
        way["rankings_equal"] = rankings(runs / name) == reference
        way["ndcg_equal"] = way["ndcg_at_10"] == out["local"]["ndcg_at_10"]
        shards = way.get("shards")
        if shards:
            fixed = [wall - (encode or 0.0) for wall, encode in zip(shards["wall_s"], shards["encode_s"], strict=True)]
            way["shard_fixed_s_mean"] = round(sum(fixed) / len(fixed), 2)
        out[name] = way
    target = args.work if smoke else args.results
    target.mkdir(parents=True, exist_ok=True)
    path = target / f"ray_shards_{platform.machine()}-{cores}cores_{out['date']}.json"
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
