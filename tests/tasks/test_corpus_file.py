"""The corpus text on disk (tasks/corpus_file.py): memory-mapped, its file unlinked at once, its pages
released after reading without changing what is read, and never anything but a file mapping released."""

import json
import sys

import pytest
from datasets import Dataset

from bge_eval.errors import DataError
from bge_eval.tasks.corpus_file import release_pages
from bge_eval.tasks.local_data import read_corpus


def write_corpus(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def test_a_corpus_is_mapped_from_an_unlinked_file_and_reads_the_same_after_release(tmp_path, monkeypatch):
    import tempfile

    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    rows = [{"_id": f"d{i}", "title": "t" if i % 2 else None, "text": f"passage {i} " * 50} for i in range(3000)]
    corpus, found = read_corpus(write_corpus(tmp_path / "corpus.jsonl", rows), {"d7", "x"})
    assert found == {"d7"} and len(corpus) == 3000
    assert list((tmp_path / "tmp").iterdir()) == []  # unlinked: freed with the dataset
    before = corpus["text"][:]
    if sys.platform.startswith("linux"):
        assert release_pages(corpus)
    assert corpus["text"][:] == before == [row["text"] for row in rows]
    assert corpus["id"][:5] == ["d0", "d1", "d2", "d3", "d4"] and corpus["title"][:2] == ["", "t"]


def test_memory_that_is_not_a_file_mapping_is_never_released():
    in_memory = Dataset.from_dict({"id": ["a", "b"], "text": ["x" * 10_000, "y" * 10_000]})
    assert not release_pages(in_memory)
    assert in_memory["text"][:] == ["x" * 10_000, "y" * 10_000]


def test_a_bad_corpus_leaves_no_file_behind(tmp_path, monkeypatch):
    import tempfile

    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    path = write_corpus(tmp_path / "corpus.jsonl", [{"_id": "a", "text": "x"}, {"_id": "b", "text": 3}])
    with pytest.raises(DataError, match="corpus.jsonl:2"):
        read_corpus(path, set())
    assert list((tmp_path / "tmp").iterdir()) == []
