"""Each distinct text encoded once per call, and the per-text embedding cache: shared across
calls and runs, keyed by the checkpoint's content, verified on read, safe against concurrent
writers and killed ones, with a size report and pruning."""

import json
import logging
import multiprocessing
import os
import time

import numpy as np
import pytest

from bge_eval._util import TEMP_SUFFIX
from bge_eval.encoding import embedding_cache as ec
from bge_eval.encoding.cache_upkeep import STALE_TEMP_S, cache_report, prune_cache
from bge_eval.encoding.embedding_cache import EmbeddingCache, text_key
from bge_eval.encoding.mteb_encoder import BgeEncoder
from bge_eval.encoding.text_embedder import TextEmbedder
from bge_eval.models import mteb_meta, resolve_model
from bge_eval.models.recipe import Recipe

TEXTS = [("word " * (i % 37 + 1)).strip() for i in range(150)]  # 37 distinct texts, most repeated
LOGGER = "bge_eval.encoding.embedding_cache"


def make(tiny_bge, **kwargs):
    resolved = resolve_model("BAAI/bge-small-en-v1.5", model_path=tiny_bge)
    return BgeEncoder(resolved, Recipe("bge", resolved.spec), mteb_meta(resolved), device="cpu", **kwargs)


def recording(monkeypatch):
    """Every list of texts the model itself encodes, in order."""
    encoded = []
    original = TextEmbedder._embed
    monkeypatch.setattr(TextEmbedder, "_embed", lambda self, texts, *a: encoded.append(list(texts)) or
                        original(self, texts, *a))
    return encoded


def shards(folder):
    return sorted(folder.rglob(f"*{ec.SHARD_SUFFIX}"))


def test_each_distinct_text_is_encoded_once_and_the_vectors_are_those_without_it(tiny_bge, monkeypatch):
    encoder = make(tiny_bge)
    without = encoder.embedder._embed(TEXTS, False)  # every row encoded, repeats included
    encoded = recording(monkeypatch)
    with_it = encoder.embed(TEXTS, normalize=False)
    assert [len(texts) for texts in encoded] == [37] and sorted(encoded[0]) == sorted(set(TEXTS))
    np.testing.assert_allclose(with_it, without, rtol=1e-5, atol=1e-6)
    for i, text in enumerate(TEXTS):  # a repeated text gets the very row of its first occurrence
        assert np.array_equal(with_it[i], with_it[TEXTS.index(text)])
    counts = encoder.take_counts()
    assert (counts.texts, counts.distinct, counts.cached, counts.encoded) == (150, 37, 0, 37)
    assert encoder.take_counts().texts == 0  # taking the counts starts them again


def test_texts_seen_before_come_from_the_cache_and_only_new_ones_are_encoded(tiny_bge, tmp_path, monkeypatch):
    first = make(tiny_bge, cache=EmbeddingCache(tmp_path / "cache")).embed(TEXTS)
    encoded = recording(monkeypatch)
    cache = EmbeddingCache(tmp_path / "cache")  # another process, as far as the cache can tell
    encoder = make(tiny_bge, cache=cache)
    again = encoder.embed(TEXTS + ["a text never seen", "word"])
    assert encoded == [["a text never seen"]]  # "word" is TEXTS[0]
    np.testing.assert_array_equal(again[:150], first)
    np.testing.assert_array_equal(again[151], first[0])
    counts = encoder.take_counts()
    assert (counts.texts, counts.distinct, counts.cached, counts.encoded) == (152, 38, 37, 1)
    assert (cache.hits, cache.misses) == (37, 1)
    instructed = encoder.embed(["Represent this sentence for searching relevant passages: " + t for t in TEXTS])
    assert len(encoded[-1]) == 37 and not np.allclose(instructed, first)  # an instruction is another text


def test_the_cache_key_follows_the_checkpoints_content(tiny_bge, tmp_path, monkeypatch):
    """Other weights or another tokenizer under the same name miss; a touched file with the same
    bytes still hits (its vectors are the same)."""
    import shutil

    from safetensors.torch import load_file, save_file

    copy = tmp_path / "ckpt"
    shutil.copytree(tiny_bge, copy)
    cache = EmbeddingCache(tmp_path / "cache")
    make(copy, cache=cache).embed(TEXTS)
    encoded = recording(monkeypatch)
    weights = next(copy.glob("*.safetensors"))
    weights.write_bytes(weights.read_bytes())  # same bytes, new modification time
    make(copy, cache=cache).embed(TEXTS)
    assert encoded == []
    tensors = load_file(weights)
    name = next(n for n in tensors if n.endswith("LayerNorm.weight"))
    tensors[name] = tensors[name] * 1.5
    save_file(tensors, weights, metadata={"format": "pt"})  # other weights, same name and size
    make(copy, cache=cache).embed(TEXTS)
    assert len(encoded) == 1
    config = json.loads((copy / "tokenizer_config.json").read_text())
    (copy / "tokenizer_config.json").write_text(json.dumps({**config, "do_lower_case": False}))
    make(copy, cache=cache).embed(TEXTS)  # another tokenizer setting
    assert len(encoded) == 2 and len(cache_report(cache.folder)) == 3


def test_one_cache_entry_serves_normalised_and_raw_vectors(tiny_bge, tmp_path):
    """Normalising comes after the cache (the recipe normalises Chinese tasks, not English ones)."""
    cache = EmbeddingCache(tmp_path / "cache")
    encoder = make(tiny_bge, cache=cache)
    raw = encoder.embed(TEXTS, normalize=False)
    unit = encoder.embed(TEXTS, normalize=True)
    assert (cache.hits, cache.misses) == (37, 37) and len(shards(tmp_path / "cache")) == 1
    assert not np.allclose(np.linalg.norm(raw, axis=1), 1)
    np.testing.assert_allclose(unit, raw / np.linalg.norm(raw, axis=1, keepdims=True), rtol=1e-6, atol=1e-7)


def _rewritten(path, vectors):
    """A well-formed shard, checksums included, holding other vectors under the same keys."""
    header = ec.read_header(path)
    keys = np.fromfile(path, dtype="S16", count=header.rows, offset=ec.HEADER_BYTES).tobytes()
    ec.write_shard(path, header.space, keys, vectors)


def _flip_byte(path, offset):
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def _vectors_of(path):
    header = ec.read_header(path)
    return np.fromfile(path, dtype=np.float32, offset=header.vectors_offset).reshape(header.rows, header.width)


DAMAGE = {
    "a vector byte": lambda p: _flip_byte(p, p.stat().st_size - 7),
    "a key byte": lambda p: _flip_byte(p, ec.HEADER_BYTES + 3),
    "truncated": lambda p: p.write_bytes(p.read_bytes()[:-100]),
    "header only": lambda p: p.write_bytes(p.read_bytes()[:ec.HEADER_BYTES]),
    "empty": lambda p: p.write_bytes(b""),
    "not a shard": lambda p: p.write_bytes(b"\x00garbage" * 1000),
    "not finite": lambda p: _rewritten(p, np.where(np.arange(_vectors_of(p).size).reshape(_vectors_of(p).shape) == 5,
                                                    np.nan, _vectors_of(p))),
    "another width": lambda p: _rewritten(p, _vectors_of(p)[:, :-1]),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_shard_is_removed_and_its_texts_encoded_again(tiny_bge, tmp_path, caplog, monkeypatch, damage):
    """Never serve an unverified vector: the shard is named in one warning, removed, its texts
    encoded again (the right vectors), and stored again for the next call."""
    right = make(tiny_bge, cache=EmbeddingCache(tmp_path / "cache")).embed(TEXTS)
    (shard,) = shards(tmp_path / "cache")
    DAMAGE[damage](shard)
    cache = EmbeddingCache(tmp_path / "cache")
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        again = make(tiny_bge, cache=cache).embed(TEXTS)
    np.testing.assert_allclose(again, right, rtol=1e-6, atol=1e-7)
    assert cache.discarded == 1 and f"embedding cache shard {shard}" in caplog.text
    assert not shard.exists() and len(shards(tmp_path / "cache")) == 1  # removed, then written afresh
    encoded = recording(monkeypatch)
    make(tiny_bge, cache=EmbeddingCache(tmp_path / "cache")).embed(TEXTS)
    assert encoded == []


def _writer(folder, start, count, width, ready):
    space = EmbeddingCache(folder).space({"model": "m"}, width)
    ready.wait()
    for i in range(start, start + count, 10):
        ids = range(i, min(i + 10, start + count))
        space.add([text_key(f"text {n}") for n in ids], np.array([[n] * width for n in ids], dtype=np.float32))


def test_concurrent_writers_and_a_killed_one_leave_a_cache_that_reads_right(tmp_path):
    """Two processes writing overlapping texts at once, and a writer killed midway (its temporary
    file left behind): every stored row reads back right and nothing half-written is served."""
    width, folder = 8, tmp_path / "cache"
    context = multiprocessing.get_context("fork")
    ready = context.Event()
    workers = [context.Process(target=_writer, args=(folder, start, 300, width, ready)) for start in (0, 150)]
    for worker in workers:
        worker.start()
    ready.set()
    for worker in workers:
        worker.join(60)
    assert [worker.exitcode for worker in workers] == [0, 0]
    space_folder = next((folder / "v2").iterdir())
    killed = space_folder / f".0-killed{ec.SHARD_SUFFIX}.x1y2z3{TEMP_SUFFIX}"
    killed.write_bytes(ec.MAGIC + b"{")  # what a writer killed mid-write leaves
    space = EmbeddingCache(folder).space({"model": "m"}, width)
    keys = [text_key(f"text {n}") for n in range(460)]
    found, vectors = space.lookup(keys)
    assert found.tolist() == list(range(450))  # 0..449 stored, 450..459 never
    np.testing.assert_array_equal(vectors[:, 0], np.arange(450, dtype=np.float32))
    old = time.time() - STALE_TEMP_S - 10
    os.utime(killed, (old, old))
    removed, _ = prune_cache(folder)
    assert removed == 1 and not killed.exists()


def test_the_size_report_and_pruning(tiny_bge, tmp_path):
    cache = EmbeddingCache(tmp_path / "cache")
    encoder = make(tiny_bge, cache=cache)
    encoder.embed(TEXTS)
    encoder.embed([f"another text {i}" for i in range(50)])
    (space,) = cache_report(cache.folder)
    assert (space.shards, space.rows) == (2, 87) and space.identity["model"] == "BAAI/bge-small-en-v1.5"
    assert space.bytes == sum(p.stat().st_size for p in shards(tmp_path / "cache"))
    older = min(shards(tmp_path / "cache"), key=lambda p: ec.read_header(p).rows)
    old = time.time() - 3 * 86400
    os.utime(older, (old, old))  # the 37-row shard, last used three days ago
    size = older.stat().st_size
    assert prune_cache(cache.folder, older_than_s=86400) == (1, size) and not older.exists()
    assert cache_report(cache.folder)[0].rows == 50
    legacy = tmp_path / "cache" / "ab" / "abcd.vec"  # the earlier one-file-per-call format
    legacy.parent.mkdir()
    legacy.write_bytes(b"x" * 10)
    assert prune_cache(cache.folder, max_bytes=0)[0] == 2 and cache_report(cache.folder) == [] and not legacy.exists()


def test_instruction_ablation_reuses_corpus_embeddings(scifact_subset, tiny_bge, tmp_path, monkeypatch):
    from bge_eval.config import RunConfig
    from bge_eval.results.manifest import Manifest
    from bge_eval.run.runner import run

    encoded = recording(monkeypatch)
    summaries = [run(RunConfig(model="BAAI/bge-small-en-v1.5", model_path=tiny_bge, tasks=("SciFact",),
                               data_dir=scifact_subset, output=tmp_path / policy, device="cpu",
                               instruction_policy=policy, embedding_cache=tmp_path / "cache"))
                 for policy in ("bge", "none")]
    corpus_encodings = [texts for texts in encoded if len(texts) > 100]
    queries = [texts for texts in encoded if len(texts) == 60]
    assert len(corpus_encodings) == 1  # the second policy's corpus came from the cache
    assert len(queries) == 2 and queries[0][0].startswith("Represent this") and queries[1][0] != queries[0][0]
    second = Manifest.read(summaries[1].results_dir / "bge_eval_manifest.json").tasks["SciFact"]
    assert second.texts["encoded"] == 60 and second.texts["cached"] == second.texts["distinct"] - 60


def test_a_later_run_of_other_tasks_encodes_only_their_new_texts(tiny_bge, tmp_path, monkeypatch):
    """STS14 shares its first sentences with STS13, run earlier: only its 30 new ones are encoded."""
    from bge_eval.config import RunConfig
    from bge_eval.results.manifest import Manifest
    from bge_eval.run.runner import run
    from tests.helpers import write_jsonl

    data = tmp_path / "data"
    for task, second in (("STS13", "one"), ("STS14", "two")):
        write_jsonl(data / task / "test.jsonl", [{"sentence1": f"shared sentence {i}",
                                                  "sentence2": f"sentence {i} of task {second}",
                                                  "score": float(i % 6)} for i in range(30)])
    encoded = recording(monkeypatch)
    summaries = [run(RunConfig(model="BAAI/bge-small-en-v1.5", model_path=tiny_bge, tasks=(task,), data_dir=data,
                               output=tmp_path / "results", device="cpu", embedding_cache=tmp_path / "cache"))
                 for task in ("STS13", "STS14")]
    later = [text for texts in encoded[2:] for text in texts]
    assert sorted(later) == sorted(f"sentence {i} of task two" for i in range(30))
    record = Manifest.read(summaries[1].results_dir / "bge_eval_manifest.json").tasks["STS14"]
    assert (record.texts["texts"], record.texts["cached"], record.texts["encoded"]) == (60, 30, 30)


def test_the_cache_command_reports_and_prunes(tiny_bge, tmp_path, capsys):
    from bge_eval.cli import main

    folder = tmp_path / "cache"
    make(tiny_bge, cache=EmbeddingCache(folder)).embed(TEXTS)
    assert main(["cache", "--embedding-cache", str(folder)]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("BAAI/bge-small-en-v1.5"))
    assert " 37 " in row and " 1 " in row and "KiB" in row  # 37 texts in one shard
    with pytest.raises(SystemExit) as exit_info:
        main(["cache", "--embedding-cache", str(folder), "--max-size", "ten gigabytes"])
    assert exit_info.value.code == 2 and "--max-size" in capsys.readouterr().err and shards(folder)
    assert main(["cache", "--embedding-cache", str(folder), "--max-size", "0"]) == 0
    out = capsys.readouterr().out
    assert "pruned: 1 file(s)" in out and "(empty)" in out and not shards(folder)
    (tmp_path / "a-file").write_text("x")
    assert main(["cache", "--embedding-cache", str(tmp_path / "a-file")]) == 2
    assert "is a file" in capsys.readouterr().err


def _shard_rows(space, first, count=10, width=16):
    ids = range(first, first + count)
    space.add([text_key(f"text {n}") for n in ids], np.array([[n] * width for n in ids], dtype=np.float32))


def test_the_cache_stays_within_its_bound_removing_the_least_recently_used(tmp_path, caplog):
    """Past its bound the cache removes the shards used longest ago (a lookup counts as a use) and
    never the one just written; what remains still reads right, in this process and the next."""
    folder = tmp_path / "cache"
    probe = EmbeddingCache(folder).space({"model": "probe"}, 16)
    _shard_rows(probe, 0)
    shard_size = ec.shards_by_use(folder)[0][1]
    prune_cache(folder, everything=True)

    bound = shard_size * 4 + shard_size // 2  # room for four shards
    cache = EmbeddingCache(folder, max_bytes=bound)
    space = cache.space({"model": "m"}, 16)
    for n, first in enumerate(range(0, 40, 10)):  # four shards, written a second apart on the clock
        _shard_rows(space, first)
        newest = ec.shards_by_use(folder)[-1][2]
        os.utime(newest, (1_000_000 + n, 1_000_000 + n))
    assert len(ec.shards_by_use(folder)) == 4 and cache.evicted == (0, 0)
    found, _ = space.lookup([text_key("text 0")])  # the oldest shard used: now the most recent
    assert found.tolist() == [0]
    with caplog.at_level(logging.INFO, logger=LOGGER):
        _shard_rows(space, 40)  # a fifth: past the bound, down to 90% of it
    total = sum(size for _, size, _ in ec.shards_by_use(folder))
    assert total <= bound * ec.EVICT_TO and cache.evicted == (1, shard_size)
    assert "1 least recently used shard(s) removed" in caplog.text
    keys = [text_key(f"text {n}") for n in range(50)]
    expected = list(range(10)) + list(range(20, 50))  # 10-19: the least recently used (0-9 were looked up)
    for reader in (space, EmbeddingCache(folder).space({"model": "m"}, 16)):
        found, vectors = reader.lookup(keys)
        assert found.tolist() == expected
        np.testing.assert_array_equal(vectors[:, 0], np.array(expected, dtype=np.float32))


def test_a_run_says_what_the_cache_holds_and_a_bound_of_zero_is_no_cache(tmp_path, tiny_bge, capsys):
    from bge_eval.cli import main

    args = ["run", "--model", "BAAI/bge-small-en-v1.5", "--model-path", str(tiny_bge), "--tasks", "BgeEvalDemoSTS",
            "--device", "cpu", "--embedding-cache", str(tmp_path / "cache")]
    assert main([*args, "--output", str(tmp_path / "a"), "--embedding-cache-max", "2G"]) == 0
    held = sum(size for _, size, _ in ec.shards_by_use(tmp_path / "cache"))
    out = capsys.readouterr().out
    assert held > 0 and f"embedding cache: {tmp_path / 'cache'} holds " in out and "of its 2.0 GiB bound" in out
    assert main([*args, "--output", str(tmp_path / "b"), "--embedding-cache-max", "0"]) == 0
    assert "embedding cache:" not in capsys.readouterr().out
    assert sum(size for _, size, _ in ec.shards_by_use(tmp_path / "cache")) == held  # nothing read or written
