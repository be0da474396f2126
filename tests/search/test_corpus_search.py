"""Retrieval through corpus_search.CorpusSearch (running top-k on the device) gives what mteb's own
SearchEncoderWrapper (per-chunk Python heaps) gives: the same documents with the same scores."""

import json
import zlib

import numpy as np
import pytest
import torch
from datasets import Dataset
from mteb.models.models_protocols import SearchProtocol
from mteb.models.search_wrappers import SearchEncoderWrapper

from bge_eval.search.corpus_search import CorpusSearch


class HashEncoder:
    """A stand-in encoder: each text's vector is drawn from a generator seeded by the text,
    so scores are distinct and reproducible. Counts the texts it encodes."""

    mteb_model_meta = None

    def __init__(self) -> None:
        self.encoded = 0

    def encode(self, inputs, **kwargs):
        texts = [text for batch in inputs for text in batch["text"]]
        self.encoded += len(texts)
        vectors = [np.random.default_rng(zlib.crc32(t.encode())).standard_normal(16) for t in texts]
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), 16)

    def similarity(self, a, b):
        a = torch.nn.functional.normalize(torch.as_tensor(a), dim=-1)
        b = torch.nn.functional.normalize(torch.as_tensor(b), dim=-1)
        return a @ b.T


@pytest.fixture(scope="module")
def retrieval_data():
    import mteb

    metadata = mteb.get_task("SciFact").metadata  # a text retrieval task's metadata (no data loaded)
    corpus = Dataset.from_dict({"id": [f"d{i}" for i in range(103)],
                                "title": [f"title {i % 7}" for i in range(103)],
                                "text": [f"passage number {i} about topic {i % 11}" for i in range(103)]})
    queries = Dataset.from_dict({"id": [f"q{i}" for i in range(9)],
                                 "text": [f"question {i} on topic {i % 11}" for i in range(9)]})
    return metadata, corpus, queries


def search_with(searcher, metadata, corpus, queries, top_k, top_ranked=None):
    where = {"task_metadata": metadata, "hf_split": "test", "hf_subset": "default"}
    searcher.index(corpus, encode_kwargs={"batch_size": 8}, num_proc=None, **where)
    return searcher.search(queries, top_k=top_k, encode_kwargs={"batch_size": 8}, top_ranked=top_ranked,
                           num_proc=None, **where)


def assert_same_results(ours, theirs):
    assert ours.keys() == theirs.keys()
    for query_id, ranked in theirs.items():
        assert ours[query_id].keys() == ranked.keys(), query_id
        for doc_id, score in ranked.items():
            assert ours[query_id][doc_id] == pytest.approx(score, abs=1e-6)


@pytest.mark.parametrize("query_block", [2, 4096])  # queries in blocks of two (bounded memory), and all at once
@pytest.mark.parametrize("top_k", [5, 25, 1000])  # within a chunk, across chunks, more than the corpus
def test_chunked_running_topk_equals_mteb_search(retrieval_data, top_k, query_block, monkeypatch):
    from bge_eval.search import corpus_search

    monkeypatch.setattr(corpus_search, "QUERY_BLOCK_ROWS", query_block)
    metadata, corpus, queries = retrieval_data
    assert len(queries) > 2  # several blocks
    encoder = HashEncoder()
    ours = search_with(CorpusSearch(encoder, corpus_chunk_docs=10), metadata, corpus, queries, top_k)
    theirs = search_with(SearchEncoderWrapper(HashEncoder(), corpus_chunk_size=10), metadata, corpus, queries, top_k)
    assert_same_results(ours, theirs)
    assert all(len(ranked) == min(top_k, len(corpus)) for ranked in ours.values())
    assert encoder.encoded == len(corpus) + len(queries)  # every text encoded once


def test_candidate_reranking_goes_to_mteb_wrapper(retrieval_data):
    metadata, corpus, queries = retrieval_data
    top_ranked = {f"q{i}": [f"d{j}" for j in range(i, 103, 9)] for i in range(9)}
    ours = search_with(CorpusSearch(HashEncoder()), metadata, corpus, queries, 5, top_ranked)
    theirs = search_with(SearchEncoderWrapper(HashEncoder()), metadata, corpus, queries, 5, top_ranked)
    assert_same_results(ours, theirs)


def dataloader_texts(dataset, metadata, prompt_type):
    from mteb._create_dataloaders import create_dataloader

    return [t for batch in create_dataloader(dataset, task_metadata=metadata, prompt_type=prompt_type, batch_size=7)
            for t in batch["text"]]


def test_texts_equal_mteb_dataloader_texts(retrieval_data, shared_data):
    from mteb.types import PromptType

    from bge_eval.search.corpus_search import mteb_texts

    metadata = retrieval_data[0]
    rows = [json.loads(line) for line in (shared_data / "SciFact" / "corpus.jsonl").read_text().splitlines()[:500]]
    cases = {
        PromptType.document: [
            Dataset.from_dict({"id": [r["_id"] for r in rows], "title": [r["title"] for r in rows],
                               "text": [r["text"] for r in rows]}),  # real titles and passages
            Dataset.from_dict({"id": ["a", "b", "c"], "title": ["", " T ", "x"], "text": [" body ", "b", ""]}),
            Dataset.from_dict({"id": ["a", "b"], "text": ["  no title ", "plain"]}),
        ],
        PromptType.query: [
            Dataset.from_dict({"id": ["q1", "q2"], "text": ["what is x?", " spaced "]}),
            Dataset.from_dict({"id": ["q1", "q2"], "text": ["find x", "find y"],
                               "instruction": ["in docs", "briefly"]}),
        ],
    }
    for prompt_type, datasets in cases.items():
        for dataset in datasets:
            assert mteb_texts(dataset, metadata, prompt_type) == dataloader_texts(dataset, metadata, prompt_type)


def test_search_before_index_is_an_error(retrieval_data):
    metadata, _, queries = retrieval_data
    with pytest.raises(ValueError, match="index"):
        CorpusSearch(HashEncoder()).search(queries, task_metadata=metadata, hf_split="test", hf_subset="default",
                                           top_k=5, encode_kwargs={})


class PlainEncoder:
    """Only mteb's EncoderProtocol of a BgeEncoder, so mteb searches with its own wrapper."""

    def __init__(self, encoder) -> None:
        self.inner = encoder
        self.mteb_model_meta = encoder.mteb_model_meta
        self.recipe = encoder.recipe

    def encode(self, inputs, **kwargs):
        return self.inner.encode(inputs, **kwargs)

    def similarity(self, a, b):
        return self.inner.similarity(a, b)

    def similarity_pairwise(self, a, b):
        return self.inner.similarity_pairwise(a, b)


def test_run_scores_and_rankings_equal_mteb_search(scifact_subset, tiny_bge, tmp_path):
    from bge_eval.config import RunConfig
    from bge_eval.encoding.mteb_encoder import BgeEncoder
    from bge_eval.run.runner import run

    config = RunConfig(model="BAAI/bge-small-en-v1.5", model_path=tiny_bge, tasks=("SciFact",),
                       data_dir=scifact_subset, embedding_cache=None, device="cpu")
    encoder = BgeEncoder.from_config(config)
    assert isinstance(encoder, SearchProtocol) and not isinstance(PlainEncoder(encoder), SearchProtocol)
    outputs = {}
    for name, model in {"ours": encoder, "mteb": PlainEncoder(encoder)}.items():
        summary = run(config.__class__(**{**config.__dict__, "output": tmp_path / name}), encoder=model)
        result = json.loads((summary.results_dir / "SciFact.json").read_text())["scores"]["test"][0]
        ranked = json.loads((summary.predictions_dir / "SciFact_predictions.json").read_text())
        outputs[name] = result, ranked["default"]["test"]
    (ours, ours_ranked), (theirs, theirs_ranked) = outputs["ours"], outputs["mteb"]
    assert_same_results(ours_ranked, theirs_ranked)
    for metric in ("ndcg_at_10", "map_at_100", "recall_at_1000", "mrr_at_10"):
        assert ours[metric] == pytest.approx(theirs[metric], abs=1e-9)


def test_a_search_killed_midway_resumes_from_the_encoded_chunks(scifact_subset, tiny_bge, tmp_path, monkeypatch):
    from bge_eval.config import RunConfig
    from bge_eval.encoding.mteb_encoder import BgeEncoder
    from bge_eval.run.runner import run

    config = RunConfig(model="BAAI/bge-small-en-v1.5", model_path=tiny_bge, tasks=("SciFact",),
                       data_dir=scifact_subset, embedding_cache=tmp_path / "cache", output=tmp_path / "out",
                       device="cpu")

    def build():
        encoder = BgeEncoder.from_config(config)
        encoder.corpus_search.corpus_chunk_docs = 64  # 300 documents: chunks of 64, 64, 64, 64, 44
        encoded = []
        original = encoder.embedder._embed
        monkeypatch.setattr(encoder.embedder, "_embed",
                            lambda texts, *args: encoded.append(len(texts)) or original(texts, *args))
        return encoder, encoded

    first, first_encoded = build()
    original_similarity = first.similarity

    def die_on_the_third_chunk(a, b):
        if len(first_encoded) == 4:  # queries, then three corpus chunks
            raise KeyboardInterrupt("killed")
        return original_similarity(a, b)

    monkeypatch.setattr(first, "similarity", die_on_the_third_chunk)
    with pytest.raises(KeyboardInterrupt):
        run(config, encoder=first)
    assert first_encoded == [60, 64, 64, 64]

    second, second_encoded = build()
    summary = run(config, encoder=second)
    # the queries and the three chunks encoded before the kill come from the cache
    assert second_encoded == [64, 44]
    assert (summary.results_dir / "SciFact.json").is_file()
