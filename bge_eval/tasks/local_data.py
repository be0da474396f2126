"""Task data from a local folder, attached to mteb's own task object (its metadata, metrics and
splits untouched): the JSON Lines / BEIR layout of shared/data, or a mirror of the hub dataset
(docs/data-formats.md). Built in memory, so an edited file is never served stale; every problem
is a DataError naming the file and line.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .. import _mteb
from ..errors import DataError
from .hub_mirror import hub_configs, load_hub_mirror
from .types import TASK_KINDS, task_kind

# The split data's key for a reranking file's candidate lists as written (see load_reranking_split).
LISTED_CANDIDATES = "bge_eval_listed_candidates"


def task_folder(data_dir: Path, task_name: str) -> Path:
    return Path(data_dir) / task_name


def has_local_data(data_dir: Path | None, task_name: str) -> bool:
    return data_dir is not None and task_folder(data_dir, task_name).is_dir()


def attach_local_data(task: Any, data_dir: Path) -> str:
    """Load `task`'s evaluated splits from `data_dir` into the task; returns the layout used."""
    return attach_folder(task, task_folder(data_dir, task.metadata.name))


def attach_folder(task: Any, folder: Path) -> str:
    """Load `task`'s evaluated splits from its data folder into the task; returns the layout used."""
    if not folder.is_dir():
        raise DataError(
            f"Task {task.metadata.name}: no local data; expected the folder {folder} "
            "(layout: docs/data-formats.md)."
        )
    if (folder / "README.md").is_file() and hub_configs(folder / "README.md"):
        load_hub_mirror(task, folder)
        return "hub-mirror"
    subsets = task.hf_subsets if task.metadata.is_multilingual else ["default"]
    dataset: dict[str, dict[str, Any]] = {}
    for subset in subsets:
        subset_folder = folder / subset if task.metadata.is_multilingual else folder
        dataset[subset] = {
            split: _load_split(task, subset_folder, split) for split in _splits_to_load(task)
        }
    _mteb.set_task_data(task, dataset)
    return "jsonl"


def _splits_to_load(task: Any) -> list[str]:
    splits = list(task.eval_splits)
    kind = task_kind(task.metadata.type)
    if kind is not None and kind.train_split:
        train = _mteb.train_split(task)
        if train not in splits:
            splits.append(train)
    return splits


def _load_split(task: Any, folder: Path, split: str) -> Any:
    from datasets import Dataset

    task_type = task.metadata.type
    kind = task_kind(task_type)
    if kind is None:
        raise DataError(f"Task {task.metadata.name}: task type {task_type} is not supported locally.")
    if kind.loader == "beir":
        return load_retrieval_split(folder, split)
    if kind.loader == "listed":
        return load_reranking_split(folder / f"{split}.jsonl")
    path = folder / f"{split}.jsonl"
    fields = kind.fields
    numbered = list(read_jsonl(path, fields))
    for line_no, row in numbered:
        _check_row(task, task_type, row, path, line_no)
    rows = [row for _, row in numbered]
    if task_type == "PairClassification" and len({row["label"] for row in rows}) < 2:
        raise DataError(f"{path}: every pair has the label {rows[0]['label']!r}; average precision needs both "
                        "labels (0 and 1) in a split.")
    if task_type == "Classification" and len({row["label"] for row in rows}) < 2:
        raise DataError(f"{path}: every row has the label {rows[0]['label']!r}; a classification split "
                        "needs at least two labels.")
    columns = _mteb.column_names(task)
    data = {columns.get(field, field): [row[field] for row in rows] for field in fields}
    return Dataset.from_dict(data)


def _check_row(task: Any, task_type: str, row: dict, path: Path, line_no: int) -> None:
    """Field types and value ranges, as the README documents them for each task type."""
    where = f"{path}:{line_no}"
    if task_type in {"STS", "PairClassification"}:
        for field in ("sentence1", "sentence2"):
            _expect(isinstance(row[field], str), where, f"{field} must be a string")
    if task_type == "STS":
        score = row["score"]
        _expect(isinstance(score, (int, float)) and not isinstance(score, bool), where, "score must be a number")
        low, high = _mteb.score_range(task)
        if low is not None and high is not None:
            _expect(low <= score <= high, where, f"score {score} is outside this task's range [{low}, {high}]")
    elif task_type == "PairClassification":
        _expect(row["label"] in (0, 1) and not isinstance(row["label"], bool), where, "label must be 0 or 1")
    elif task_type == "Classification":
        _expect(isinstance(row["text"], str), where, "text must be a string")
        _expect(isinstance(row["label"], (int, str)) and not isinstance(row["label"], bool), where,
                "label must be an integer (or a string)")
    elif task_type == "Clustering":
        _expect(isinstance(row["sentences"], list) and isinstance(row["labels"], list), where,
                "sentences and labels must be lists")
        _expect(len(row["sentences"]) == len(row["labels"]), where, "sentences and labels differ in length")
        _expect(all(isinstance(s, str) for s in row["sentences"]), where, "every sentence must be a string")


def _expect(condition: bool, where: str, message: str) -> None:
    if not condition:
        raise DataError(f"{where}: {message}.")


# The longest line a data file may hold: a row is one item (a legacy clustering row, the longest
# kind, holds a few MB); a file without newlines is refused, not read whole into memory.
MAX_LINE_BYTES = 256 * 2**20


def text_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text) of every physical line of a UTF-8 file, read one line at a time (a BOM
    is allowed); a line that is not UTF-8 or longer than MAX_LINE_BYTES is a DataError naming it."""
    if not path.is_file():
        raise DataError(f"{path}: file not found.")
    with path.open("rb") as handle:
        for line_no, raw in enumerate(iter(lambda: handle.readline(MAX_LINE_BYTES + 1), b""), start=1):
            if len(raw) > MAX_LINE_BYTES:
                raise DataError(f"{path}:{line_no}: a line longer than {MAX_LINE_BYTES // 2**20} MiB; a file "
                                "holds one item a line (is it one JSON document, or missing newlines?).")
            try:
                text = raw.decode("utf-8-sig" if line_no == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                raise DataError(f"{path}:{line_no}: bytes that are not UTF-8; re-encode the file as UTF-8.") from exc
            yield line_no, text.rstrip("\r\n")


def read_jsonl(path: Path, required: tuple[str, ...]) -> Iterator[tuple[int, dict]]:
    """(line number, row) of a JSON Lines file, numbered by physical line (blank lines count);
    a DataError names the file and line of any bad row. A UTF-8 BOM is allowed; NaN, Infinity
    and lone surrogates are not (they are not JSON text)."""
    count = 0
    for line_no, line in text_lines(path):
        if not line.strip():
            continue
        where = f"{path}:{line_no}"
        try:
            row = json.loads(line, parse_constant=_not_json)
        except json.JSONDecodeError as exc:
            raise DataError(f"{where}: invalid JSON ({exc.msg}).") from exc
        except RecursionError as exc:
            raise DataError(f"{where}: JSON nested too deeply to read; flatten the row.") from exc
        except ValueError as exc:  # from _not_json
            raise DataError(f"{where}: {exc}.") from exc
        if not isinstance(row, dict):
            raise DataError(f"{where}: expected a JSON object, got {type(row).__name__}.")
        try:
            json.dumps(row, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError as exc:
            raise DataError(f"{where}: a lone surrogate ({exc.object[exc.start:exc.end]!r}) is not valid text; "
                            "fix the escape sequence.") from exc
        missing = [field for field in required if field not in row]
        if missing:
            raise DataError(f"{where}: missing field(s) {', '.join(missing)}.")
        count += 1
        yield line_no, row
    if count == 0:
        raise DataError(f"{path}: the file has no rows.")


def _not_json(constant: str) -> float:
    raise ValueError(f"{constant} is not a JSON number")


def load_retrieval_split(folder: Path, split: str) -> dict:
    """BEIR layout -> mteb's RetrievalSplitData (corpus, queries, relevant_docs)."""
    from datasets import Dataset

    numbered_queries = list(_texts(folder / "queries.jsonl"))
    query_rows = [row for _, row in numbered_queries]
    query_ids = _unique_ids(numbered_queries, folder / "queries.jsonl")
    qrels_file = folder / "qrels" / f"{split}.tsv"
    qrels, first_line_of = read_qrels(qrels_file, set(query_ids))
    _check_every_query_is_judged(folder, numbered_queries)
    corpus, found = read_corpus(folder / "corpus.jsonl", set(first_line_of))
    missing = sorted((line, doc_id) for doc_id, line in first_line_of.items() if doc_id not in found)
    if missing:
        raise DataError(f"{qrels_file}:{missing[0][0]}: corpus-id {missing[0][1]!r} is not in corpus.jsonl.")
    # Only queries with judgements are evaluated (as mteb does for BEIR data).
    queries = [row for row, qid in zip(query_rows, query_ids, strict=False) if qid in qrels]
    return {
        "corpus": corpus,
        "queries": Dataset.from_dict(
            {"id": [str(row["_id"]) for row in queries], "text": [row["text"] for row in queries]}
        ),
        "relevant_docs": qrels,
        "top_ranked": None,
    }


CORPUS_BATCH_ROWS = 100_000  # rows held as Python objects at once while a corpus becomes Arrow columns


def read_corpus(path: Path, judged: set[str]) -> tuple[Any, set[str]]:
    """A BEIR corpus.jsonl as a Dataset (id, title, text) written in batches into an Arrow file on disk
    and memory-mapped (corpus_file.py), so neither Python objects nor the text stay in memory; and
    which of `judged` it holds. A repeated _id is a DataError naming the line of its second appearance."""
    import numpy as np
    import pyarrow as pa

    from .corpus_file import CorpusFile

    schema = pa.schema([(name, pa.string()) for name in ("id", "title", "text")])
    hashes, lines, found = [], [], set()
    columns: dict[str, list] = {"id": [], "title": [], "text": []}
    line_numbers: list[int] = []
    corpus_file = CorpusFile(schema)

    def flush() -> None:
        if line_numbers:
            corpus_file.write(pa.table({name: pa.array(values, pa.string()) for name, values in columns.items()},
                                       schema=schema))
            hashes.append(np.fromiter(map(hash, columns["id"]), dtype=np.int64, count=len(line_numbers)))
            lines.append(np.array(line_numbers, dtype=np.int64))
            for values in (*columns.values(), line_numbers):
                values.clear()

    try:
        for line_no, row in _texts(path):
            doc_id = str(row["_id"])
            if doc_id in judged:
                found.add(doc_id)
            columns["id"].append(doc_id)
            columns["title"].append(row.get("title") or "")
            columns["text"].append(row["text"])
            line_numbers.append(line_no)
            if len(line_numbers) == CORPUS_BATCH_ROWS:
                flush()
        flush()
    except BaseException:
        corpus_file.discard()
        raise
    corpus = corpus_file.finish()
    if hashes:
        _refuse_repeated_ids(corpus.data.table.column("id"), np.concatenate(hashes), np.concatenate(lines), path)
    return corpus, found


def _refuse_repeated_ids(ids: Any, hashes: Any, lines: Any, path: Path) -> None:
    """Equal hashes are compared as strings (a hash collision is not a duplicate)."""
    import numpy as np

    order = np.argsort(hashes, kind="stable")
    same = np.flatnonzero(hashes[order][1:] == hashes[order][:-1])
    repeated = []
    for at in same:
        first, second = sorted((int(order[at]), int(order[at + 1])))
        if ids[first].as_py() == ids[second].as_py():
            repeated.append((int(lines[second]), ids[second].as_py()))
    if repeated:
        line_no, doc_id = min(repeated)
        raise DataError(f"{path}:{line_no}: duplicate _id {doc_id!r}.")


def _texts(path: Path) -> Iterator[tuple[int, dict]]:
    """A BEIR corpus or queries file, a row at a time: every _id a string or an integer, text a
    string, title a string or absent / null."""
    for line_no, row in read_jsonl(path, ("_id", "text")):
        where = f"{path}:{line_no}"
        _expect(isinstance(row["_id"], (str, int)) and not isinstance(row["_id"], bool) and str(row["_id"]) != "",
                where, "_id must be a non-empty string (or an integer)")
        _expect(isinstance(row["text"], str), where, f"text must be a string, got {json.dumps(row['text'])}")
        _expect(row.get("title") is None or isinstance(row["title"], str), where, "title must be a string")
        yield line_no, row


def _check_every_query_is_judged(folder: Path, numbered_queries: list[tuple[int, dict]]) -> None:
    """A query judged in no qrels file of the folder is an error (a BEIR queries.jsonl may
    hold several splits' queries, so the judgements of every split count)."""
    judged: set[str] = set()
    for qrels_file in (folder / "qrels").glob("*.tsv"):
        judged.update(line.split("\t", 1)[0] for _, line in text_lines(qrels_file))
    for line_no, row in numbered_queries:
        if str(row["_id"]) not in judged:
            raise DataError(
                f"{folder / 'queries.jsonl'}:{line_no}: query {str(row['_id'])!r} has no judgements in "
                f"{folder / 'qrels'}; add its qrels or remove the query."
            )


def _unique_ids(numbered: list[tuple[int, dict]], path: Path) -> list[str]:
    ids, seen = [], set()
    for line_no, row in numbered:
        doc_id = str(row["_id"])
        if doc_id in seen:
            raise DataError(f"{path}:{line_no}: duplicate _id {doc_id!r}.")
        seen.add(doc_id)
        ids.append(doc_id)
    return ids


def read_qrels(path: Path, query_ids: set[str]) -> tuple[dict[str, dict[str, int]], dict[str, int]]:
    """qrels TSV (header query-id, corpus-id, score) -> ({query_id: {doc_id: score}}, the first line
    naming each doc_id, for the caller's check against the corpus)."""
    if not path.is_file():
        raise DataError(f"{path}: file not found (qrels for this split).")
    qrels: dict[str, dict[str, int]] = {}
    lines_of: dict[tuple[str, str], int] = {}
    lines = text_lines(path)  # quotes are characters, as BEIR's reader takes them
    header = next(lines, (1, ""))[1].split("\t")
    if [h.strip() for h in header[:3]] != ["query-id", "corpus-id", "score"]:
        raise DataError(f"{path}:1: expected the header 'query-id<TAB>corpus-id<TAB>score'.")
    for line_no, line in lines:
        if not line:
            continue
        fields = line.split("\t")
        if len(fields) < 3:
            raise DataError(f"{path}:{line_no}: expected 3 tab-separated fields, got {len(fields)}.")
        query_id, doc_id, score = fields[0], fields[1], fields[2]
        if query_id not in query_ids:
            raise DataError(f"{path}:{line_no}: query-id {query_id!r} is not in queries.jsonl.")
        value = _judgement(score, f"{path}:{line_no}")
        earlier = qrels.setdefault(query_id, {}).get(doc_id)
        if earlier is not None and earlier != value:
            raise DataError(f"{path}:{line_no}: ({query_id}, {doc_id}) is judged {value} here and {earlier} on "
                            f"line {lines_of[(query_id, doc_id)]}; keep one judgement per pair.")
        qrels[query_id][doc_id] = value
        lines_of.setdefault((query_id, doc_id), line_no)
    if not qrels:
        raise DataError(f"{path}: no judgements.")
    first_line_of: dict[str, int] = {}
    for (_, doc_id), line_no in lines_of.items():
        first_line_of[doc_id] = min(line_no, first_line_of.get(doc_id, line_no))
    return qrels, first_line_of


def _judgement(score: str, where: str) -> int:
    """A qrels score: a whole number, as BEIR and mteb read them (0.5 is not silently made 0)."""
    try:
        value = float(score)
    except ValueError:
        raise DataError(f"{where}: score {score!r} is not a number.") from None
    if not value.is_integer():
        raise DataError(f"{where}: score {score!r} is not a whole number; relevance is graded in integers "
                        "(0 not relevant, 1, 2, ... more relevant).")
    return int(value)


def load_reranking_split(path: Path) -> dict:
    """Lines of {query, positive[], negative[]} -> RetrievalSplitData with top_ranked candidates
    (each text once), and the candidate lists as written (LISTED_CANDIDATES: per query, every
    (doc id, 1 positive / 0 negative) in file order, a repeated text repeated), which C-MTEB scored."""
    from datasets import Dataset

    doc_ids: dict[str, str] = {}
    queries: list[tuple[str, str]] = []
    relevant: dict[str, dict[str, int]] = {}
    top_ranked: dict[str, list[str]] = {}
    listed_candidates: dict[str, list[tuple[str, int]]] = {}
    for line_no, row in read_jsonl(path, TASK_KINDS["Reranking"].fields):
        _expect(isinstance(row["query"], str), f"{path}:{line_no}", "query must be a string")
        _expect(isinstance(row["positive"], list) and isinstance(row["negative"], list)
                and all(isinstance(text, str) for text in row["positive"] + row["negative"]),
                f"{path}:{line_no}", "positive and negative must be lists of texts")
        if not row["positive"]:
            raise DataError(f"{path}:{line_no}: no positive candidates; every query needs at least one.")
        query_id = f"q{len(queries)}"
        queries.append((query_id, str(row["query"])))
        candidates = []
        listed = [(doc_ids.setdefault(str(text), f"d{len(doc_ids)}"), label)
                  for label, texts in ((1, row["positive"]), (0, row["negative"])) for text in texts]
        for doc_id, _ in listed:
            if doc_id not in candidates:
                candidates.append(doc_id)
        top_ranked[query_id] = candidates
        relevant[query_id] = {doc_ids[str(text)]: 1 for text in row["positive"]}
        listed_candidates[query_id] = listed
    return {
        "corpus": Dataset.from_dict({"id": list(doc_ids.values()), "text": list(doc_ids.keys())}),
        "queries": Dataset.from_dict({"id": [q for q, _ in queries], "text": [t for _, t in queries]}),
        "relevant_docs": relevant,
        "top_ranked": top_ranked,
        LISTED_CANDIDATES: listed_candidates,
    }
