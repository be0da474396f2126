"""The audit's normalisation and shingles, and its reading of training files: the three formats,
gzip, and every kind of bad input as one DataError naming the file and line."""

from __future__ import annotations

import gzip
import json

import pytest

from bge_eval.contamination.text import jaccard, normalise, shingles
from bge_eval.contamination.training import read_training
from bge_eval.errors import DataError


def test_normalisation_folds_width_case_punctuation_and_spaces():
    assert normalise("  Hello,   WORLD!! \t(again) ") == "hello world again"
    assert normalise("ｆｕｌｌ－ｗｉｄｔｈ") == "full width"  # NFKC, then the hyphen is punctuation
    assert normalise("北京是中国的首都。") == "北京是中国的首都"
    assert normalise("Straße") == normalise("STRASSE")  # case folding, not lowering


def test_shingles_are_words_or_cjk_characters_with_their_neighbours():
    assert shingles("a b c") == {"a", "b", "c", "a b", "b c"}
    assert shingles("北京 首都") == {"北", "京", "首", "都", "北 京", "京 首", "首 都"}
    assert jaccard(shingles("the cat sat"), shingles("the cat sat")) == 1.0
    assert jaccard(shingles("the cat sat"), shingles("a dog ran")) == 0.0


def test_the_three_formats_and_gzip(tmp_path):
    flag = tmp_path / "train.jsonl.gz"
    with gzip.open(flag, "wt", encoding="utf-8") as out:
        out.write(json.dumps({"query": "q", "pos": ["p1", "p2"], "neg": ["n"], "prompt": "x"}) + "\n\n")
        out.write(json.dumps({"text": "t"}) + "\n")
    plain = tmp_path / "lines.txt"
    plain.write_text("first line\n\nsecond line\n", encoding="utf-8")
    lines = list(read_training(flag))
    assert [list(line.texts()) for line in lines] == [[("query", "q"), ("pos", "p1"), ("pos", "p2"), ("neg", "n")],
                                                      [("text", "t")]]
    assert [line.line for line in lines] == [1, 3]
    assert [(line.line, list(line.texts())) for line in read_training(plain)] == [
        (1, [("text", "first line")]), (3, [("text", "second line")])]


def test_a_byte_order_mark_is_not_text(tmp_path):
    flag, plain = tmp_path / "bom.jsonl", tmp_path / "bom.txt"
    flag.write_bytes(b"\xef\xbb\xbf" + json.dumps({"query": "q", "pos": ["p"]}).encode() + b"\n")
    plain.write_bytes(b"\xef\xbb\xbfhello\r\nworld\r\n")
    assert [list(line.texts()) for line in read_training(flag)] == [[("query", "q"), ("pos", "p")]]
    assert [line.text for line in read_training(plain)] == ["hello", "world"]


@pytest.mark.parametrize("content, said", [
    ('{"query": "q", "pos": ["p"]}\nnot json\n', "bad.jsonl:2: not a JSON object"),
    ('{"query": "q", "pos": "p"}\n', 'bad.jsonl:1: "pos" must be a list of texts'),
    ('{"query": "q", "neg": [1, 2]}\n', 'bad.jsonl:1: "neg" must be a list of texts'),
    ('[1, 2]\n', "bad.jsonl:1: a JSON list, not an object"),
    ('{"title": "t"}\n', 'bad.jsonl:1: neither "query"'),
    ("\n  \n", "bad.jsonl: the file is empty"),
])
def test_bad_lines_name_the_file_and_line(tmp_path, content, said):
    path = tmp_path / "bad.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError) as caught:
        list(read_training(path))
    assert said in str(caught.value)


def test_an_unreadable_file_is_named(tmp_path):
    path = tmp_path / "broken.txt.gz"
    path.write_bytes(b"not gzip at all")
    with pytest.raises(DataError, match="broken.txt.gz: cannot be read"):
        list(read_training(path))
    latin = tmp_path / "latin.txt"
    latin.write_bytes("caf\xe9\n".encode("latin-1"))
    with pytest.raises(DataError, match="latin.txt: cannot be read"):
        list(read_training(latin))
