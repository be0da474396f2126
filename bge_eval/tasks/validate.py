"""`python -m bge_eval validate PATH`: a task card and its data (or a suite file and every card it
names) read exactly as a run reads them (every defect is the run's one-line error), then what a
user needs to trust the data: counts per split, text lengths in characters (and tokens for a
model's tokenizer), repeated texts, label balance and the score range."""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .cards import TaskCard, card_task, read_card
from .names import is_card_path
from .selection import plan_tasks
from .suites import read_suite

LABEL_COLUMNS = ("label", "labels", "score")


@dataclass(frozen=True)
class TextStats:
    """One text column: how many texts, their lengths, how many repeat another text."""

    column: str
    count: int
    chars: tuple[int, float, int]  # min, median, max
    tokens: tuple[int, float, int] | None  # the same in tokens, when a tokenizer was given
    repeated: int  # texts equal to an earlier text of the column


@dataclass(frozen=True)
class SplitReport:
    split: str
    counts: dict[str, int]
    texts: list[TextStats]
    labels: dict[str, Any] = field(default_factory=dict)  # label balance, score range


@dataclass(frozen=True)
class CardReport:
    folder: Path
    card: TaskCard
    splits: list[SplitReport]


@dataclass(frozen=True)
class SuiteCheck:
    file: Path
    name: str
    registry_tasks: list[str]
    cards: list[CardReport]


def validate_suite(path: Path, tokenizer: Any = None) -> SuiteCheck:
    """A suite file planned as a run plans it (names, repeated tasks), then each of its cards validated."""
    suite = read_suite(path)
    plan_tasks(tuple(suite.entries), None, None)
    cards = [validate_card(Path(entry), tokenizer) for entry in suite.entries if is_card_path(entry)]
    return SuiteCheck(Path(suite.file), suite.name, [e for e in suite.entries if not is_card_path(e)], cards)


def validate_card(folder: Path, tokenizer: Any = None) -> CardReport:
    """Read the card and its data as a run would (DataError on any defect) and describe them."""
    folder = Path(folder).resolve()
    card = read_card(folder)
    task = card_task(folder)
    task.load_data()
    reports = []
    data = task.dataset.get("default", task.dataset)
    for split, split_data in data.items():
        if isinstance(split_data, dict):  # retrieval and reranking: corpus, queries, judgements
            counts = {"documents": len(split_data["corpus"]), "queries": len(split_data["queries"]),
                      "judgements": sum(len(d) for d in split_data["relevant_docs"].values())}
            texts = [_text_stats("documents", split_data["corpus"]["text"], tokenizer),
                     _text_stats("queries", split_data["queries"]["text"], tokenizer)]
            positives = Counter(sum(1 for g in docs.values() if g > 0) for docs in split_data["relevant_docs"].values())
            labels = {"relevant documents per query": dict(sorted(positives.items()))}
        else:
            counts = {"rows": len(split_data)}
            columns = {c: _flat(split_data[c]) for c in split_data.column_names}
            texts = [_text_stats(c, values, tokenizer) for c, values in columns.items()
                     if values and isinstance(values[0], str)]
            labels = _labels(split_data)
        reports.append(SplitReport(split, counts, texts, labels))
    return CardReport(folder, card, reports)


def _flat(values: list) -> list:
    """Clustering rows hold lists of texts / labels: one flat list."""
    return [v for value in values for v in (value if isinstance(value, list) else [value])]


def _lengths(values: list[int]) -> tuple[int, float, int]:
    return (min(values), float(statistics.median(values)), max(values)) if values else (0, 0.0, 0)


def _text_stats(column: str, texts: list[str], tokenizer: Any) -> TextStats:
    tokens = None
    if tokenizer is not None and texts:
        tokens = _lengths([len(ids) for ids in tokenizer(list(texts), add_special_tokens=True)["input_ids"]])
    seen = Counter(texts)
    return TextStats(column, len(texts), _lengths([len(t) for t in texts]), tokens,
                     sum(n - 1 for n in seen.values() if n > 1))


def _labels(split_data: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for column in split_data.column_names:
        if column not in LABEL_COLUMNS and not column.endswith("label"):
            continue
        values = _flat(split_data[column])
        if values and (column == "score" or all(isinstance(v, float) for v in values)):
            out[f"{column} range"] = [min(values), max(values)]
        elif values:
            counts = sorted(Counter(values).items(), key=lambda item: str(item[0]))
            out[f"{column} balance"] = {str(label): n for label, n in counts}
    return out
