"""One retrieval task's corpus over several workers: units of (model, task, shard).

A shard unit (search_shard, on a worker) plans and loads the task as a local run does, encodes
all queries and its shard's corpus chunks with the same calls as a one-process search (so the
same vectors and scores), and sends back every query's top-k among its rows. The driver keeps
each finished shard on disk until the task is committed (ShardStore: a rerun does not redo it),
then evaluates the task on the merged rankings (search.sharded.MergedSearch), encoding nothing,
and commits it like any unit."""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
import zipfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from .. import _mteb
from ..config import DEFAULT_DATALOADER_BATCH_SIZE, RunConfig
from ..errors import BgeEvalError
from ..results.layout import ResultsLayout, refuse_link_below
from ..search.corpus_search import shard_rows
from ..search.sharded import MergedSearch, ShardRanking, merge_rankings
from ..tasks.local_data import task_folder
from ..tasks.selection import PlannedTask
from .prepared import PreparedRun, model_target, plan_run, task_identities
from .task_eval import TaskWork, evaluate_task, load_task_data


def shard_count(planned: PlannedTask, data_dir: Path | None, shards: int, chunk_docs: int) -> int:
    """How many shards a task is searched in: `shards` for full-corpus retrieval, but no more than its
    corpus has chunks where a local corpus.jsonl tells (a shard holds whole chunks); 1: not sharded."""
    if shards <= 1 or planned.type != "Retrieval":
        return 1
    card = getattr(planned.task, "card_folder", None)
    folder = Path(card) if card is not None else task_folder(data_dir, planned.name) if data_dir else None
    corpus = folder / "corpus.jsonl" if folder is not None else None
    if corpus is None or not corpus.is_file():
        return shards  # a hub task or a mirror: its size is known only once loaded
    with corpus.open("rb") as lines:
        docs = sum(block.count(b"\n") for block in iter(lambda: lines.read(1 << 24), b""))
    return max(1, min(shards, -(-docs // chunk_docs)))


@dataclass(frozen=True)
class ShardResult:
    """What a shard unit sends back: its rankings per (subset, split), the identity of what it
    evaluated (ResultIdentity as JSON), its encoder's counts and facts, where and how long it ran."""

    task: str
    shard: int
    shards: int
    rankings: dict[tuple[str, str], ShardRanking]
    identity: dict[str, Any]
    texts: dict[str, int | float] | None
    encoder: dict[str, Any] | None
    host: str
    wall_s: float


def search_shard(config: RunConfig, entry: str, task: str, shard: int, shards: int) -> ShardResult:
    """On a worker: shard `shard` (from 0) of `shards` of the task `entry` (a name or a card folder)."""
    from ..encoding.mteb_encoder import BgeEncoder

    started = time.perf_counter()
    config = replace(config, tasks=(entry,), benchmark=None, suite=None, progress=False)
    target = model_target(config)
    plan, _ = plan_run(config, target)
    planned = next((p for p in plan.tasks if p.name == task), None)
    if planned is None:
        raise BgeEvalError(f"{entry}: the worker's plan has no task {task}; give every node the same data.")
    identity = task_identities(config, target, plan, {})[task]
    encoder = BgeEncoder.from_config(config, target.resolved, recipe=target.recipe, meta=target.meta)
    try:
        encoder.take_counts()
        load_task_data(planned, config.data_dir)
        encode_kwargs = {"batch_size": config.batch_size or DEFAULT_DATALOADER_BATCH_SIZE}
        rankings = {}
        try:
            for subset, split, corpus, queries, top_ranked in _mteb.retrieval_inputs(planned.task, planned.splits):
                if top_ranked is not None:
                    raise BgeEvalError(f"{task}: split {split} gives candidates per query (reranking); only "
                                       "full-corpus retrieval is sharded: run it without --corpus-shards.")
                where = {"task_metadata": planned.task.metadata, "hf_split": split, "hf_subset": subset}
                rows = shard_rows(len(corpus), shard, shards, config.corpus_chunk)
                if not rows:  # more shards than chunks (a hub task's size is known only now): nothing to rank
                    index, scores = np.zeros((len(queries), 0), np.int64), np.zeros((len(queries), 0), np.float32)
                else:
                    index, scores = encoder.corpus_search.rank(queries, corpus, rows, where=where,
                                                               top_k=_mteb.retrieval_top_k(planned.task),
                                                               encode_kwargs=encode_kwargs)
                rankings[(subset, split)] = ShardRanking(list(queries["id"][:]), index, scores)
        finally:
            _mteb.unload_task_data(planned.task)
        counts, facts = encoder.take_counts(), encoder.encoder_facts()
    finally:
        encoder.close()
    return ShardResult(task, shard, shards, rankings, identity.to_json(), counts.to_json(), asdict(facts),
                       socket.gethostname(), time.perf_counter() - started)


class ShardStore:
    """A task's finished shards under OUTPUT/.shards/<org__model>/<revision>/<task>/, one .npz file
    each (written whole, then renamed), until the task is committed."""

    def __init__(self, layout: ResultsLayout, task: str) -> None:
        self.layout = layout
        self.folder = layout.shards_dir(task)

    def load(self, identity: Any, shards: int) -> dict[int, ShardResult]:
        """Shards kept from an earlier run of the same inputs and shard count; others are removed."""
        kept: dict[int, ShardResult] = {}
        if not self.folder.is_dir():
            return kept
        refuse_link_below(self.layout.output, self.folder)
        for path in sorted(self.folder.glob("shard-*.npz")):
            result = _read_shard(path)
            if (result is None or result.shards != shards or not 0 <= result.shard < shards
                    or identity.changes_from(result.identity) or path.name != _file_name(result)):
                path.unlink()
            else:
                kept[result.shard] = result
        return kept

    def save(self, result: ShardResult) -> None:
        refuse_link_below(self.layout.output, self.folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray] = {}
        keys = []
        for i, ((subset, split), ranking) in enumerate(result.rankings.items()):
            keys.append([subset, split])
            arrays[f"{i}.query_ids"] = np.array(ranking.query_ids, dtype=str)
            arrays[f"{i}.index"], arrays[f"{i}.scores"] = ranking.index, ranking.scores
        meta = {**{k: v for k, v in asdict(result).items() if k != "rankings"}, "keys": keys}
        arrays["meta"] = np.array(json.dumps(meta))
        partial = self.folder / f".{_file_name(result)}.{os.getpid()}.partial"
        savez: Any = np.savez  # numpy's stubs do not type **arrays
        with partial.open("wb") as out:
            savez(out, **arrays)
        os.replace(partial, self.folder / _file_name(result))

    def drop(self) -> None:
        """The task is committed: its shards are no longer needed (nor empty folders above them)."""
        shutil.rmtree(self.folder, ignore_errors=True)
        for folder in self.folder.parents:
            if folder == self.layout.output:
                break
            try:
                folder.rmdir()
            except OSError:
                break


def _file_name(result: ShardResult) -> str:
    return f"shard-{result.shard}-of-{result.shards}.npz"


def _read_shard(path: Path) -> ShardResult | None:
    """A stored shard, or None when the file is not one (cut short, or from another version)."""
    try:
        with np.load(path, allow_pickle=False) as stored:
            meta = json.loads(str(stored["meta"]))
            rankings = {(subset, split): ShardRanking(stored[f"{i}.query_ids"].tolist(), stored[f"{i}.index"],
                                                      stored[f"{i}.scores"])
                        for i, (subset, split) in enumerate(meta.pop("keys"))}
        return ShardResult(rankings=rankings, **meta)
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile):
        return None


def finish_sharded(prepared: PreparedRun, planned: PlannedTask, results: dict[int, ShardResult], reused: int,
                   staging: Path) -> TaskWork:
    """The task evaluated on its shards' merged rankings and committed; where its time went
    (wall: the longest shard, then the driver's merge, scoring and writing)."""
    for result in results.values():
        prepared.check_worker_identity(planned.name, result.identity, result.host)
    parts = [results[i] for i in sorted(results)]
    top_k = _mteb.retrieval_top_k(planned.task)
    merged = {key: merge_rankings([part.rankings[key] for part in parts], top_k) for key in parts[0].rankings}
    config = prepared.config
    work = evaluate_task(planned, MergedSearch(prepared.target.meta, merged), prepared.layout, staging,
                         data_dir=config.data_dir, save_predictions=config.save_predictions,
                         dataloader_batch_size=config.batch_size or DEFAULT_DATALOADER_BATCH_SIZE)
    texts: dict[str, int | float] = {}
    for part in parts:
        for key, value in (part.texts or {}).items():
            texts[key] = round(texts.get(key, 0) + value, 3)
    encoders = [part.encoder for part in parts if part.encoder and part.encoder.get("device")]
    if encoders:
        prepared.manifest.record_encoder(**encoders[0])
    shards = {"count": len(parts), "reused": reused, "hosts": sorted({part.host for part in parts}),
              "chunk_docs": config.corpus_chunk, "wall_s": [round(part.wall_s, 3) for part in parts],
              "encode_s": [(part.texts or {}).get("encode_s") for part in parts]}
    return replace(work, wall_s=max(part.wall_s for part in parts) + work.wall_s,
                   encode_s=texts.get("encode_s"), texts=texts or None, shards=shards)
