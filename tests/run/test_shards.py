"""One corpus over several workers (run/shards.py, search/sharded.py): shard rows, the exact merge,
and the Ray executor's sharded units driven in this process by a stand-in for Ray's API (the real
cluster is tests/run/test_ray.py): rankings equal to a one-process run's, a lost shard failing
only its task, a rerun computing only the missing shards."""

import json
from pathlib import Path

import numpy as np
import pytest

from bge_eval.cli import main
from bge_eval.run import ray_executor
from bge_eval.search.corpus_search import best_first, shard_rows
from bge_eval.search.sharded import ShardRanking, merge_rankings


@pytest.mark.parametrize("docs,shards,chunk", [(300, 4, 64), (16, 4, 2), (5, 4, 2), (0, 3, 10), (100_000, 7, 50_000),
                                               (8_841_823, 4, 50_000)])
def test_shards_are_whole_chunks_in_order_covering_the_corpus(docs, shards, chunk):
    rows = [shard_rows(docs, i, shards, chunk) for i in range(shards)]
    assert [r for part in rows for r in part] == list(range(docs))
    assert all(part.start % chunk == 0 for part in rows if len(part))
    sizes = [len(part) for part in rows]
    assert max(sizes) - min(sizes) <= chunk  # shared out within a chunk of each other


def test_the_merge_is_the_top_k_of_the_whole_with_ties_to_the_lower_row():
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 40, size=(6, 300)).astype(np.float32)  # many equal scores
    whole = best_first(np.tile(np.arange(300), (6, 1)), scores, 25)
    parts = []
    for rows in (range(0, 64), range(64, 192), range(192, 300)):
        index = np.tile(np.array(rows), (6, 1))
        parts.append(ShardRanking([f"q{i}" for i in range(6)], *best_first(index, scores[:, rows.start:rows.stop], 25)))
    merged = merge_rankings(parts, 25)
    assert np.array_equal(merged.index, whole[0]) and np.array_equal(merged.scores, whole[1])
    # ties by lower row: within equal scores, rows ascend
    for row_index, row_scores in zip(merged.index, merged.scores, strict=True):
        for a in range(24):
            assert row_scores[a] > row_scores[a + 1] or row_index[a] < row_index[a + 1]


class _Ref:
    def __init__(self, value=None, error=None):
        self.value, self.error = value, error


class InProcessRay:
    """Ray's API as the executor uses it, each task run at once in this process. `lose` names shards
    whose task fails as a worker lost past its retries does."""

    def __init__(self, lose=()):
        self.lose = set(lose)
        self.calls: list[tuple[str, tuple]] = []

    def is_initialized(self):
        return True

    def cluster_resources(self):
        return {"CPU": 2.0}

    def remote(self, function):
        ray = self

        class Remote:
            def options(self, **kwargs):
                return self

            def remote(self, *args):
                ray.calls.append((function.__name__, args[1:]))
                if function.__name__ == "search_shard" and args[3] in ray.lose:
                    return _Ref(error=RuntimeError("the worker died unexpectedly"))
                try:
                    return _Ref(function(*args))
                except Exception as exc:  # noqa: BLE001 - as Ray hands a task's exception to get()
                    return _Ref(error=exc)

        return Remote()

    def wait(self, refs, num_returns=1):
        return refs[:num_returns], refs[num_returns:]

    def get(self, ref):
        if ref.error is not None:
            raise ref.error
        return ref.value

    def cancel(self, ref, force=False):
        pass

    def shutdown(self):
        pass


def rankings(output: Path) -> dict:
    [path] = output.glob("predictions/*/*/SciFact_predictions.json")
    return json.loads(path.read_text())


def ndcg(output: Path) -> float:
    [path] = output.glob("results/*/*/SciFact.json")
    return json.loads(path.read_text())["scores"]["test"][0]["ndcg_at_10"]


@pytest.fixture(scope="module")
def one_process(tiny_bge, scifact_subset, tmp_path_factory) -> Path:
    output = tmp_path_factory.mktemp("one-process")
    assert main(["run", "--model", "local/tiny", "--model-path", str(tiny_bge), "--tasks", "SciFact", "--data-dir",
                 str(scifact_subset), "--output", str(output), "--no-embedding-cache", "--no-progress",
                 "--corpus-chunk", "64"]) == 0
    return output


def sharded(tiny_bge, scifact_subset, output: Path, *extra: str) -> int:
    return main(["run", "--model", "local/tiny", "--model-path", str(tiny_bge), "--tasks", "SciFact", "--data-dir",
                 str(scifact_subset), "--output", str(output), "--no-embedding-cache", "--no-progress",
                 "--corpus-chunk", "64", "--ray", "--corpus-shards", "4", *extra])


def test_four_shards_give_the_one_process_rankings_and_ndcg(one_process, tiny_bge, scifact_subset, tmp_path,
                                                           monkeypatch):
    ray = InProcessRay()
    monkeypatch.setattr(ray_executor, "import_ray", lambda: ray)
    assert sharded(tiny_bge, scifact_subset, tmp_path) == 0
    assert sorted(args[2] for name, args in ray.calls if name == "search_shard") == [0, 1, 2, 3]
    assert rankings(tmp_path) == rankings(one_process)  # every query's 300 documents, scores bit for bit
    assert ndcg(tmp_path) == ndcg(one_process)
    [manifest] = tmp_path.glob("results/*/*/bge_eval_manifest.json")
    record = json.loads(manifest.read_text())["tasks"]["SciFact"]
    assert record["shards"]["count"] == 4 and record["shards"]["reused"] == 0
    assert record["texts"]["encoded"] == 300 + 4 * 60  # each document once, the queries once per shard
    assert not (tmp_path / ".shards").exists()  # dropped once the task is committed


def test_a_lost_shard_fails_its_task_and_the_rerun_computes_only_that_shard(one_process, tiny_bge, scifact_subset,
                                                                            tmp_path, monkeypatch, capsys):
    ray = InProcessRay(lose={2})
    monkeypatch.setattr(ray_executor, "import_ray", lambda: ray)
    assert sharded(tiny_bge, scifact_subset, tmp_path) == 1
    assert "the worker died unexpectedly" in capsys.readouterr().out
    assert not list(tmp_path.glob("results/*/*/SciFact.json"))
    kept = sorted(p.name for p in tmp_path.glob(".shards/*/*/SciFact/*.npz"))
    assert kept == ["shard-0-of-4.npz", "shard-1-of-4.npz", "shard-3-of-4.npz"]

    ray = InProcessRay()
    monkeypatch.setattr(ray_executor, "import_ray", lambda: ray)
    assert sharded(tiny_bge, scifact_subset, tmp_path) == 0
    assert [args[2] for name, args in ray.calls if name == "search_shard"] == [2]
    assert rankings(tmp_path) == rankings(one_process) and ndcg(tmp_path) == ndcg(one_process)
    [manifest] = tmp_path.glob("results/*/*/bge_eval_manifest.json")
    assert json.loads(manifest.read_text())["tasks"]["SciFact"]["shards"]["reused"] == 3


def test_kept_shards_of_other_inputs_or_another_count_are_not_used(one_process, tiny_bge, scifact_subset, tmp_path,
                                                                   monkeypatch):
    ray = InProcessRay(lose={0})
    monkeypatch.setattr(ray_executor, "import_ray", lambda: ray)
    assert sharded(tiny_bge, scifact_subset, tmp_path) == 1
    ray = InProcessRay()
    monkeypatch.setattr(ray_executor, "import_ray", lambda: ray)
    # another shard count: none of the three kept shards is one of these
    assert main(["run", "--model", "local/tiny", "--model-path", str(tiny_bge), "--tasks", "SciFact", "--data-dir",
                 str(scifact_subset), "--output", str(tmp_path), "--no-embedding-cache", "--no-progress",
                 "--corpus-chunk", "64", "--ray", "--corpus-shards", "2"]) == 0
    assert sorted(args[2] for name, args in ray.calls if name == "search_shard") == [0, 1]
    assert rankings(tmp_path) == rankings(one_process)


def test_a_kept_shard_cut_short_is_computed_again(one_process, tiny_bge, scifact_subset, tmp_path, monkeypatch):
    ray = InProcessRay(lose={3})
    monkeypatch.setattr(ray_executor, "import_ray", lambda: ray)
    assert sharded(tiny_bge, scifact_subset, tmp_path) == 1
    [kept] = [p for p in tmp_path.glob(".shards/*/*/SciFact/shard-1-of-4.npz")]
    kept.write_bytes(kept.read_bytes()[:1000])
    ray = InProcessRay()
    monkeypatch.setattr(ray_executor, "import_ray", lambda: ray)
    assert sharded(tiny_bge, scifact_subset, tmp_path) == 0
    assert sorted(args[2] for name, args in ray.calls if name == "search_shard") == [1, 3]
    assert rankings(tmp_path) == rankings(one_process)



def test_a_corpus_is_cut_into_no_more_shards_than_it_has_chunks(one_process, tiny_bge, scifact_subset, tmp_path,
                                                                 monkeypatch):
    ray = InProcessRay()
    monkeypatch.setattr(ray_executor, "import_ray", lambda: ray)
    assert main(["run", "--model", "local/tiny", "--model-path", str(tiny_bge), "--tasks", "SciFact", "--data-dir",
                 str(scifact_subset), "--output", str(tmp_path), "--no-embedding-cache", "--no-progress",
                 "--corpus-chunk", "64", "--ray", "--corpus-shards", "16"]) == 0
    assert sorted(args[2:] for name, args in ray.calls if name == "search_shard") == [(i, 5) for i in range(5)]
    assert rankings(tmp_path) == rankings(one_process)


def test_a_shard_with_no_chunk_ranks_nothing_and_the_merge_is_unchanged(tiny_bge, scifact_subset, tmp_path):
    """A hub task's size is known only once loaded: there, more shards than chunks leave some empty."""
    from bge_eval.config import RunConfig
    from bge_eval.run.shards import search_shard

    config = RunConfig(model="local/tiny", model_path=tiny_bge, data_dir=scifact_subset, output=tmp_path,
                       embedding_cache=None, corpus_chunk=256)
    empty = search_shard(config, "SciFact", "SciFact", 0, 3)  # 300 documents: 2 chunks; shard 0 of 3 holds none
    [(key, ranking)] = empty.rankings.items()
    assert key == ("default", "test") and ranking.index.shape == (60, 0) and len(ranking.query_ids) == 60
    assert empty.texts["encoded"] == 0
