"""Helpers the tests share (fixtures are in conftest.py)."""

from __future__ import annotations

import json
import os
import shutil
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("BGE_EVAL_SHARED_DATA", REPO.parent / "shared" / "data"))
MINILM = "sentence-transformers/all-MiniLM-L6-v2"


def write_jsonl(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def read_jsonl(path):
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def sts_and_intent_cards(root: Path, shared_data: Path, prefix: str) -> tuple[str, str]:
    """Two task cards from real data: PREFIXSTS (STSBenchmark's first 300 test pairs) and
    PREFIXIntents (ten Banking77 intents, 16 training and 20 test examples each)."""
    sts = root / f"{prefix}STS"
    write_jsonl(sts / "test.jsonl", read_jsonl(shared_data / "STSBenchmark" / "test.jsonl")[:300])
    (sts / "task.toml").write_text(f'name = "{prefix}STS"\ntype = "STS"\nlanguage = "eng"\nscore_range = [0, 5]\n')
    intents = root / f"{prefix}Intents"
    banking = shared_data / "Banking77Classification"
    for split, per in (("train", 16), ("test", 20)):
        taken: defaultdict[int, int] = defaultdict(int)
        rows = []
        for row in read_jsonl(banking / f"{split}.jsonl"):
            if row["label"] in range(10) and taken[row["label"]] < per:
                taken[row["label"]] += 1
                rows.append({"text": row["text"], "label": row["label"]})
        write_jsonl(intents / f"{split}.jsonl", rows)
    (intents / "task.toml").write_text(f'name = "{prefix}Intents"\ntype = "Classification"\nlanguage = "eng"\n')
    return str(sts), str(intents)


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def launch_chromium(playwright, errors: list[str] | None = None):
    """Headless Chromium with nothing of its own reaching out (no updates, sync or background traffic)."""
    assert Path(CHROMIUM).exists(), "Chromium is needed: `bash .ci/browser` installs it (apt)"
    return playwright.chromium.launch(executable_path=CHROMIUM, args=[
        "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"])


def record_errors(page, errors: list[str]) -> None:
    """The page's console errors and uncaught exceptions, appended to `errors`."""
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))


def beir(folder, corpus, queries, qrels, split="test"):
    write_jsonl(folder / "corpus.jsonl", corpus)
    write_jsonl(folder / "queries.jsonl", queries)
    (folder / "qrels").mkdir(parents=True, exist_ok=True)
    lines = ["query-id\tcorpus-id\tscore"] + [f"{q}\t{d}\t{s}" for q, d, s in qrels]
    (folder / "qrels" / f"{split}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")


def assert_workers_exit_when_parent_killed(script_path: Path, body: str) -> None:
    """Run `body` (the main block of a script that starts worker processes and prints their pids
    on one line), SIGKILL it, and check that every worker exits within 30 s."""
    import signal
    import subprocess
    import sys
    import time

    script_path.write_text(body + "    sys.stdin.read()\n", encoding="utf-8")
    parent = subprocess.Popen([sys.executable, str(script_path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    workers = [int(pid) for pid in parent.stdout.readline().split()]
    assert len(workers) == 2, workers
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()

    def running(pid: int) -> bool:
        try:
            return open(f"/proc/{pid}/status").read().split("State:")[1].split()[0] != "Z"
        except (FileNotFoundError, IndexError):
            return False

    deadline = time.monotonic() + 30
    while any(running(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(running(pid) for pid in workers)
# The peer environment with FlagEmbedding (built by .ci/peers), for tests/peers.
PEER_PYTHON = Path(os.environ.get("BGE_EVAL_PEER_PYTHON", REPO / ".venv-peers" / "bin" / "python"))


class TrigramEncoder:
    """Hashed character trigrams (64 dimensions): a deterministic mteb encoder that needs no weights
    (the mteb contract test; benchmarks/classification_scoring.py)."""

    def __init__(self) -> None:
        from bge_eval import _mteb

        self.mteb_model_meta = _mteb.ModelMeta.create_empty(overwrites={"name": "test/trigrams"})

    def encode(self, inputs, **kwargs):
        import zlib

        import numpy as np

        texts = [text for batch in inputs for text in batch["text"]]
        out = np.zeros((len(texts), 64), dtype=np.float32)
        for row, text in enumerate(texts):
            for i in range(len(text) - 2):
                out[row, zlib.crc32(text[i:i + 3].encode()) % 64] += 1.0
        return out / np.linalg.norm(out, axis=1, keepdims=True).clip(1e-6)

    def similarity(self, a, b):
        from bge_eval import _mteb

        return _mteb.AbsEncoder.similarity(self, a, b)

    def similarity_pairwise(self, a, b):
        from bge_eval import _mteb

        return _mteb.AbsEncoder.similarity_pairwise(self, a, b)


def run_readme_block(section: str, work: Path) -> None:
    """The first bash block under README.md's `## {section}`, line by line through main(), in `work`
    (each line a `python -m bge_eval ...` command; continuation lines joined)."""
    import shlex

    from bge_eval.cli import main

    text = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    block = text.split(f"## {section}", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    cwd = Path.cwd()
    os.chdir(work)
    try:
        for line in block.replace("\\\n", " ").strip().splitlines():
            words = shlex.split(line, comments=True)
            assert words[:3] == ["python", "-m", "bge_eval"], line
            assert main(words[3:]) == 0, line
    finally:
        os.chdir(cwd)
