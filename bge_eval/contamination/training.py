"""Training data, streamed line by line: FlagEmbedding's fine-tuning JSON Lines ({"query", "pos":
[...], "neg": [...], optional "prompt"}), JSON Lines with a "text" field, or plain text lines (a
file not named .jsonl / .json); any of them gzipped (.gz). A file that cannot be read, a line that
is not JSON where JSON is expected, a field of the wrong type or an empty file is a DataError
naming the file and line."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from ..errors import DataError

JSON_SUFFIXES = (".jsonl", ".json")


@dataclass(frozen=True)
class TrainingLine:
    """One line: a FlagEmbedding example (query, positives, negatives) or one text."""

    file: str
    line: int
    query: str | None = None
    positives: tuple[str, ...] = ()
    negatives: tuple[str, ...] = ()
    text: str | None = None

    def texts(self) -> Iterator[tuple[str, str]]:
        """(role, text), role one of "query", "pos", "neg", "text"."""
        if self.text is not None:
            yield "text", self.text
        if self.query is not None:
            yield "query", self.query
        yield from (("pos", t) for t in self.positives)
        yield from (("neg", t) for t in self.negatives)


def check_training_file(path: Path) -> None:
    """DataError unless `path` is a file (a folder is named as one: its files are to be given)."""
    if path.is_dir():
        raise DataError(f"--train {path}: a folder; give its training files (e.g. --train {path}/*.jsonl).")
    if not path.is_file():
        raise DataError(f"--train {path}: no such file.")


def read_training(path: Path) -> Iterator[TrainingLine]:
    path = Path(path)
    check_training_file(path)
    name = path.name.removesuffix(".gz")
    as_json = name.endswith(JSON_SUFFIXES)
    seen = 0
    try:
        with _open(path) as lines:
            for number, raw in enumerate(lines, 1):
                if not raw.strip():
                    continue
                seen += 1
                yield _parse_json(path, number, raw) if as_json else TrainingLine(str(path), number,
                                                                                  text=raw.strip())
    except (OSError, EOFError, UnicodeDecodeError, gzip.BadGzipFile) as exc:
        raise DataError(f"--train {path}: cannot be read ({exc}); give a readable UTF-8 file (gzip allowed).") \
            from None
    if not seen:
        raise DataError(f"--train {path}: the file is empty; give training lines (docs/audit.md).")


def _open(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8-sig")
    return path.open(encoding="utf-8-sig")  # a byte-order mark, as some editors write, is not text


def _parse_json(path: Path, number: int, raw: str) -> TrainingLine:
    where = f"--train {path}:{number}"
    try:
        row = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise DataError(f"{where}: not a JSON object ({exc.msg}); every line of a .jsonl file is one object "
                        "(FlagEmbedding's {\"query\", \"pos\", \"neg\"} or {\"text\"}).") from None
    if not isinstance(row, dict):
        raise DataError(f"{where}: a JSON {type(row).__name__}, not an object with \"query\" or \"text\".")
    if "query" in row:
        for field in ("pos", "neg"):
            value = row.get(field, [])
            if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
                raise DataError(f"{where}: \"{field}\" must be a list of texts, got {type(value).__name__}.")
        if not isinstance(row["query"], str):
            raise DataError(f"{where}: \"query\" must be a text.")
        return TrainingLine(str(path), number, row["query"], tuple(row.get("pos", [])), tuple(row.get("neg", [])))
    if isinstance(row.get("text"), str):
        return TrainingLine(str(path), number, text=row["text"])
    raise DataError(f"{where}: neither \"query\" (FlagEmbedding's fine-tuning format) nor a \"text\" field.")
