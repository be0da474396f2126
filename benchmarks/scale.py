"""MTEB at its real size: a synthetic MSMARCO-shaped retrieval card at 100k, 1M (and 8.8M)
passages, run through `bge_eval run` and through plain `mteb.evaluate` on the same card and model,
each side a fresh process, in one benchmark run.

    python benchmarks/scale.py --docs 100000 1000000              # the CPU figures (tiny model)
    python benchmarks/scale.py --docs 8800000 --sides harness     # long: run it in the background
    python benchmarks/scale.py --docs 1000000 --shape base --device cuda   # on a GPU, when one is lent
    SMOKE=1 python benchmarks/scale.py                            # 2,000 passages, seconds

The card: passages of 30-80 words (MSMARCO's length), 6,980 queries of 3-10 words, each drawn
from its relevant passage, 1.1 judged passages per query on average; deterministic for a size
(kept in --work between runs). The model: a random BGE-shaped checkpoint (`--shape tiny`: one
layer, 64 wide, so the pipeline and not the model is timed; `small` / `base`: BGE's shapes) with
sentence-transformers' files for CLS pooling, as BGE's card has them; its scores mean nothing but
must agree between the sides.
Per size and side: wall time of the process, the harness's phases from its manifest (load,
encode calls, the rest of mteb's scoring and search, write), peak resident memory of the process
(`wait4`), bytes written to the output and to the embedding cache, nDCG@10; then the growth
between sizes per passage. Results: benchmarks/results/scale_<machine>_<date>.json, rewritten
after each side so a run stopped midway keeps what it finished.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
       "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
QUERIES = 6980  # MSMARCO's dev queries
TASK = "ScaleMSMARCO"


def build_card(folder: Path, docs: int, tokenizer_dir: Path, seed: int = 0) -> Path:
    """The card folder for `docs` passages (written once; a finished card has its task.toml)."""
    if (folder / "task.toml").is_file():
        return folder
    rng = np.random.default_rng(seed)
    words = np.array(sorted(w for w in (tokenizer_dir / "vocab.txt").read_text(encoding="utf-8").split()
                            if w.isalpha() and w.isascii() and len(w) > 2))
    (folder / "qrels").mkdir(parents=True, exist_ok=True)
    queries_n = min(QUERIES, docs // 2)  # a smoke-sized card has fewer queries than MSMARCO
    judged = rng.choice(docs, size=queries_n, replace=False)
    second = rng.random(queries_n) < 0.1  # one query in ten has a second relevant passage
    lengths = rng.integers(30, 81, size=docs)
    kept: dict[int, str] = {}
    wanted = set(judged.tolist())
    with (folder / "corpus.jsonl").open("w", encoding="utf-8") as corpus:
        for start in range(0, docs, 100_000):
            stop = min(docs, start + 100_000)
            drawn = rng.integers(0, len(words), size=int(lengths[start:stop].sum()))
            offset = 0
            lines = []
            for doc in range(start, stop):
                text = " ".join(words[drawn[offset:offset + lengths[doc]]])
                offset += lengths[doc]
                if doc in wanted:
                    kept[doc] = text
                lines.append(json.dumps({"_id": f"d{doc}", "title": "", "text": text}))
            corpus.write("\n".join(lines) + "\n")
    with (folder / "queries.jsonl").open("w", encoding="utf-8") as queries, \
            (folder / "qrels" / "test.tsv").open("w", encoding="utf-8") as qrels:
        qrels.write("query-id\tcorpus-id\tscore\n")
        for number, doc in enumerate(judged.tolist()):
            passage = kept[doc].split()
            size = int(rng.integers(3, 11))
            begin = int(rng.integers(0, len(passage) - size))
            queries.write(json.dumps({"_id": f"q{number}", "text": " ".join(passage[begin:begin + size])}) + "\n")
            qrels.write(f"q{number}\td{doc}\t1\n")
            if second[number]:
                qrels.write(f"q{number}\td{(doc + 1) % docs}\t1\n")
    (folder / "task.toml").write_text(f'name = "{TASK}"\ntype = "Retrieval"\nlanguage = "eng"\n'
                                      'description = "Synthetic MSMARCO-shaped passages (benchmarks/scale.py)."\n',
                                      encoding="utf-8")
    return folder


def measured(command: list[str], log: Path) -> dict:
    """Run `command` as a child process: wall seconds and its peak resident memory (wait4)."""
    started = time.perf_counter()
    with log.open("w") as output:
        child = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=ENV, cwd=ROOT)
        _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed: {' '.join(command)}\n{log.read_text()[-3000:]}")
    return {"wall_s": round(wall, 2), "peak_rss_gb": round(usage.ru_maxrss / 2**20, 3)}


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.exists() else 0


def harness_side(card: Path, model: Path, args: argparse.Namespace, out: Path) -> dict:
    side = measured(harness_command(card, model, args, out), out / "harness.log")
    return {**side, **manifest_facts(out / "results", TASK), "output_bytes": folder_bytes(out / "results"),
            "cache_bytes": folder_bytes(out / "cache")}


def plain_side(card: Path, model: Path, args: argparse.Namespace, out: Path) -> dict:
    command = [sys.executable, __file__, "--plain-child", str(card), str(model), args.device, str(out / "plain")]
    side = measured(command, out / "plain.log")
    (result,) = (out / "plain").rglob(f"{TASK}.json")
    return {**side, "output_bytes": folder_bytes(out / "plain"),
            "ndcg_at_10": json.loads(result.read_text())["scores"]["test"][0]["ndcg_at_10"]}


def resume_side(card: Path, model: Path, args: argparse.Namespace, out: Path) -> dict:
    """The harness killed (SIGKILL) --kill-after seconds into its run, then the same command again;
    then a second task over the same corpus (every other query, its own name) with the same cache."""
    cache, command = out / "cache", harness_command(card, model, args, out)
    started = time.perf_counter()
    with (out / "killed.log").open("w") as log:
        child = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=ENV, cwd=ROOT)
        try:
            child.wait(timeout=args.kill_after)
            sys.exit("the run finished before it was killed: give a smaller --kill-after")
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    killed = {"killed_after_s": round(time.perf_counter() - started, 1), "cache_bytes": folder_bytes(cache)}
    rerun = {**measured(command, out / "rerun.log"), **manifest_facts(out / "results", TASK),
             "cache_bytes": folder_bytes(cache)}
    second_card = out / "second-card"
    (second_card / "qrels").mkdir(parents=True)
    os.link(card / "corpus.jsonl", second_card / "corpus.jsonl")
    kept = set()
    with (card / "queries.jsonl").open() as source, (second_card / "queries.jsonl").open("w") as target:
        for number, line in enumerate(source):
            if number % 2 == 0:
                target.write(line)
                kept.add(json.loads(line)["_id"])
    qrels = (card / "qrels" / "test.tsv").read_text().splitlines()
    kept_qrels = [qrels[0]] + [line for line in qrels[1:] if line.split("\t")[0] in kept]
    (second_card / "qrels" / "test.tsv").write_text("\n".join(kept_qrels) + "\n")
    (second_card / "task.toml").write_text((card / "task.toml").read_text().replace(f'"{TASK}"', f'"{TASK}Second"'))
    second = {**measured(harness_command(second_card, model, args, out), out / "second.log"),
              **manifest_facts(out / "results", f"{TASK}Second"), "cache_bytes": folder_bytes(cache)}
    return {"killed": killed, "rerun": rerun, "second_task": second}


def harness_command(card: Path, model: Path, args: argparse.Namespace, out: Path) -> list[str]:
    return [sys.executable, "-m", "bge_eval", "run", "--model", "BAAI/bge-base-en-v1.5", "--model-path",
            str(model), "--revision", f"random-{args.shape}", "--tasks", str(card), "--output", str(out / "results"),
            "--embedding-cache", str(out / "cache"), "--device", args.device, "--no-progress", "--instruction-policy",
            "none"]


def manifest_facts(results: Path, task: str) -> dict:
    (manifest_file,) = results.rglob("bge_eval_manifest.json")
    record = json.loads(manifest_file.read_text())["tasks"][task]
    (result,) = results.rglob(f"{task}.json")
    return {"phases": record.get("phases"), "texts": record.get("texts"),
            "ndcg_at_10": json.loads(result.read_text())["scores"]["test"][0]["ndcg_at_10"]}


def plain_child(card: str, model: str, device: str, out: str) -> None:
    """In a child process: plain mteb.evaluate with its sentence-transformers wrapper on the card's task."""
    import mteb
    from mteb.models.sentence_transformer_wrapper import SentenceTransformerEncoderWrapper
    from sentence_transformers import SentenceTransformer

    from bge_eval.tasks.cards import card_task

    task = card_task(Path(card))
    task.load_data()
    wrapper = SentenceTransformerEncoderWrapper(SentenceTransformer(model, device=device))
    mteb.evaluate(wrapper, [task], cache=mteb.ResultCache(out), co2_tracker=False, show_progress_bar=False,
                  overwrite_strategy="always")


def growth(sizes: list[dict], side: str) -> list[dict]:
    """Between consecutive sizes: wall seconds and resident bytes per added passage, and the wall per passage ratio."""
    out = []
    for small, large in zip(sizes, sizes[1:], strict=False):
        a, b = small.get(side), large.get(side)
        if not a or not b:
            continue
        added = large["docs"] - small["docs"]
        out.append({"from": small["docs"], "to": large["docs"],
                    "wall_s_per_1k_added": round(1000 * (b["wall_s"] - a["wall_s"]) / added, 4),
                    "rss_bytes_per_added": round((b["peak_rss_gb"] - a["peak_rss_gb"]) * 2**30 / added, 1),
                    "wall_per_doc_ratio": round((b["wall_s"] / large["docs"]) / (a["wall_s"] / small["docs"]), 3)})
    return out


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--plain-child":
        plain_child(*sys.argv[2:6])
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, nargs="+", default=[100_000])
    parser.add_argument("--sides", nargs="+", default=["harness", "plain"], choices=["harness", "plain", "resume"],
                        help="resume: the harness killed after --kill-after seconds and rerun, then a second task "
                        "over the same corpus with the same cache")
    parser.add_argument("--kill-after", type=float, default=120.0, metavar="SECONDS")
    parser.add_argument("--shape", default="tiny", choices=["tiny", "minilm", "small", "base"])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--work", type=Path, default=Path("/tmp/bge_eval_scale"))
    parser.add_argument("--tokenizer", type=Path, default=None, help="a BERT WordPiece tokenizer folder")
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results", help="where the JSON goes")
    args = parser.parse_args()
    if os.environ.get("SMOKE"):
        args.docs = [2000]
    from encode_throughput import default_tokenizer_dir
    from end_to_end import random_bge

    tokenizer = args.tokenizer or default_tokenizer_dir()
    model = args.work / f"bge-{args.shape}-random"
    if not (model / "modules.json").is_file():
        random_bge(args.shape, model, tokenizer)
    machine = f"{args.device}-{os.cpu_count()}cores-{platform.machine()}"
    if args.device.startswith("cuda"):
        import torch

        machine = torch.cuda.get_device_name(0).replace(" ", "_")
    results = args.results / f"scale_{machine}_{args.shape}_{date.today().isoformat()}.json"
    if os.environ.get("SMOKE"):
        results = args.work / "scale_smoke.json"
    report: dict = {"benchmark": "scale", "machine": machine, "shape": args.shape, "date": date.today().isoformat(),
                    "python": platform.python_version(), "sizes": []}
    for docs in args.docs:
        card = build_card(args.work / f"card-{docs}", docs, tokenizer)
        entry: dict = {"docs": docs, "card_bytes": folder_bytes(card)}
        report["sizes"].append(entry)
        for side in args.sides:
            out = args.work / f"run-{docs}-{side}"
            subprocess.run(["rm", "-rf", str(out)], check=True)
            out.mkdir(parents=True)
            entry[side] = {"harness": harness_side, "plain": plain_side, "resume": resume_side}[side](card, model, args,
                                                                                                      out)
            if "harness" in entry and "plain" in entry:
                entry["harness_over_plain_wall"] = round(entry["harness"]["wall_s"] / entry["plain"]["wall_s"], 3)
                entry["ndcg_at_10_equal"] = abs(entry["harness"]["ndcg_at_10"] - entry["plain"]["ndcg_at_10"]) < 1e-4
            report["growth"] = {s: growth(report["sizes"], s) for s in args.sides if s != "resume"}
            results.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
            print(f"{docs:>9} passages, {side}: {json.dumps(entry[side])}", flush=True)
    print(f"written: {results}")


if __name__ == "__main__":
    main()
