"""What the audit finds, per task: items whose texts were seen in training (a query or any of its
relevant documents; either sentence of a pair; an example's text), and the worst case, a query
with one of its relevant documents together as one training line's (query, pos). Written to
audit.json (AUDIT_FILE) with a few examples each and their training file and line."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._util import atomic_write_json
from .clean import AUDIT_FILE, FORMAT
from .matching import NUM_PERM, Hit, Matcher
from .text import NORMALISATION, SHINGLES
from .training import read_training

if TYPE_CHECKING:
    from .evaluated import TaskItems

EXAMPLES = 5  # per task and kind of finding
EXAMPLE_CHARS = 200


@dataclass
class TaskFindings:
    task: str
    type: str
    subset: str
    split: str
    unit: str
    items: int
    contaminated: list[str] = field(default_factory=list)  # item ids (query ids, pair or example numbers)
    counts: dict[str, int] = field(default_factory=dict)
    examples: list[dict[str, Any]] = field(default_factory=list)
    data: str = ""  # the fingerprint of the task data audited (a run's result identity's "data")

    @property
    def share(self) -> float:
        return len(self.contaminated) / self.items if self.items else 0.0

    @property
    def key(self) -> str:
        return f"{self.task} ({self.split}{'' if self.subset == 'default' else ', ' + self.subset})"

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "share": self.share}


@dataclass
class AuditResult:
    threshold: float
    training: list[dict[str, Any]]
    tasks: list[TaskFindings]
    elapsed_s: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"bge_eval_audit": FORMAT, "normalisation": NORMALISATION, "shingles": SHINGLES,
                "threshold": self.threshold, "num_perm": NUM_PERM, "training": self.training,
                "elapsed_s": round(self.elapsed_s, 3), "tasks": [t.to_json() for t in self.tasks]}

    def write(self, folder: Path) -> Path:
        path = Path(folder) / AUDIT_FILE
        atomic_write_json(path, self.to_json())
        return path

    def above(self, share: float) -> list[TaskFindings]:
        return [t for t in self.tasks if t.share > share]


class _Tally:
    """Per task: what was seen, as hits arrive."""

    def __init__(self, items: TaskItems) -> None:
        self.items = items
        self.seen: dict[tuple[str, str], Hit] = {}  # (role, id) -> its best hit
        self.together: dict[str, tuple[Hit, Hit, str]] = {}  # query -> (query hit, pos hit, document)

    def add(self, role: str, key: str, hit: Hit) -> None:
        best = self.seen.get((role, key))
        if best is None or (hit.kind == "exact", hit.similarity) > (best.kind == "exact", best.similarity):
            self.seen[(role, key)] = hit

    def findings(self, texts: list[str]) -> TaskFindings:
        items = self.items
        found = TaskFindings(items.task, items.type, items.subset, items.split, items.unit, len(items.items),
                             data=items.data)
        by_role: dict[str, dict[str, Hit]] = {}
        for (role, key), hit in self.seen.items():
            by_role.setdefault(role, {})[key] = hit
        if items.unit == "queries":
            queries, documents = by_role.get("query", {}), by_role.get("document", {})
            bad = {q for q in items.items if q in queries or any(d in documents for d in items.relevant.get(q, []))}
            relevant = {d for docs in items.relevant.values() for d in docs}
            found.counts = {"queries_seen": len(queries), "queries_seen_exact": _exact(queries),
                            "relevant_documents": len(relevant), "relevant_documents_seen": len(documents),
                            "relevant_documents_seen_exact": _exact(documents), "pairs_together": len(self.together)}
            kinds = [("query seen", queries), ("relevant document seen", documents)]
        else:
            bad = {key for hits in by_role.values() for key in hits}
            exact = {key for hits in by_role.values() for key, hit in hits.items() if hit.kind == "exact"}
            found.counts = {f"{items.unit}_seen": len(bad), f"{items.unit}_seen_exact": len(exact)}
            kinds = [(f"{role} seen", hits) for role, hits in sorted(by_role.items())]
        found.contaminated = [item for item in items.items if item in bad]
        for label, hits in kinds:
            for key, hit in list(hits.items())[:EXAMPLES]:
                found.examples.append(_example(label, key, hit, texts))
        for query, (query_hit, pos_hit, document) in list(self.together.items())[:EXAMPLES]:
            found.examples.append({**_example("query and relevant document together as (query, pos)", query,
                                              query_hit, texts), "document": document,
                                   "document_similarity": round(pos_hit.similarity, 4)})
        return found


def _exact(hits: dict[str, Hit]) -> int:
    return sum(hit.kind == "exact" for hit in hits.values())


def _example(label: str, key: str, hit: Hit, texts: list[str]) -> dict[str, Any]:
    text = texts[hit.evaluated]
    return {"finding": label, "item": key, "kind": hit.kind, "similarity": round(hit.similarity, 4),
            "training": f"{hit.file}:{hit.line}", "training_role": hit.role,
            "text": text if len(text) <= EXAMPLE_CHARS else text[:EXAMPLE_CHARS] + " ..."}


def audit(evaluated: list[TaskItems], training_files: list[Path], threshold: float) -> AuditResult:
    """Every training line of `training_files` against the evaluated texts of every task."""
    started = time.perf_counter()
    index: dict[str, int] = {}
    owners: list[list[tuple[int, str, str]]] = []  # per distinct text: (task number, role, id)
    for number, items in enumerate(evaluated):
        for role, key, text in items.texts:
            i = index.setdefault(text, len(index))
            if i == len(owners):
                owners.append([])
            owners[i].append((number, role, key))
    texts = list(index)
    matcher = Matcher(texts, threshold)
    tallies = [_Tally(items) for items in evaluated]
    training = []
    for path in training_files:
        lines = texts_read = 0
        for line, hits in matcher.match_all(read_training(Path(path))):
            lines += 1
            texts_read += sum(1 for _ in line.texts())
            for hit in hits:
                for number, role, key in owners[hit.evaluated]:
                    tallies[number].add(role, key, hit)
            _pairs_together(hits, owners, tallies)
        training.append({"file": str(path), "lines": lines, "texts": texts_read})
    return AuditResult(threshold, training, [tally.findings(texts) for tally in tallies],
                       time.perf_counter() - started)


def _pairs_together(hits: list[Hit], owners: list[list[tuple[int, str, str]]], tallies: list[_Tally]) -> None:
    """One training line's query on an evaluated query and one of its pos on that query's relevant document."""
    queries = [(hit, owner) for hit in hits if hit.role == "query" for owner in owners[hit.evaluated]
               if owner[1] == "query"]
    if not queries:
        return
    documents = [(hit, owner) for hit in hits if hit.role == "pos" for owner in owners[hit.evaluated]
                 if owner[1] == "document"]
    for query_hit, (number, _, query) in queries:
        relevant = set(tallies[number].items.relevant.get(query, []))
        for pos_hit, (other, _, document) in documents:
            if other == number and document in relevant and query not in tallies[number].together:
                tallies[number].together[query] = (query_hit, pos_hit, document)
