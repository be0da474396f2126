import numpy as np
import pytest
import torch

from bge_eval.search.dense import block_topk, cosine_scores, exact_topk


def brute_force(queries, corpus, k):
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    c = corpus / np.linalg.norm(corpus, axis=1, keepdims=True)
    scores = q @ c.T
    index = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return index, np.take_along_axis(scores, index, axis=1)


@pytest.mark.parametrize("corpus_chunk,query_chunk", [(1000, 1000), (37, 5), (1, 3)])
def test_chunked_topk_equals_brute_force(corpus_chunk, query_chunk):
    rng = np.random.default_rng(0)
    queries = rng.normal(size=(23, 16)).astype(np.float32)
    corpus = rng.normal(size=(301, 16)).astype(np.float32)
    index, scores = exact_topk(queries, corpus, 10, corpus_chunk=corpus_chunk, query_chunk=query_chunk)
    ref_index, ref_scores = brute_force(queries, corpus, 10)
    np.testing.assert_array_equal(index, ref_index)
    np.testing.assert_allclose(scores, ref_scores, atol=1e-5)
    assert scores.dtype == np.float32


def test_k_larger_than_corpus():
    index, scores = exact_topk(np.eye(2, dtype=np.float32), np.eye(2, dtype=np.float32), 5)
    assert index.tolist() == [[0, 1], [1, 0]] and scores[:, 0].tolist() == [1.0, 1.0]


def test_cosine_scores_are_fp32_and_normalised():
    a = torch.tensor([[3.0, 4.0]], dtype=torch.float16)
    b = torch.tensor([[6.0, 8.0], [0.0, 1.0]], dtype=torch.float16)
    scores = cosine_scores(a, b)
    assert scores.dtype == torch.float32
    assert scores.tolist() == [[pytest.approx(1.0), pytest.approx(0.8)]]


@pytest.mark.parametrize("width,k", [(4096, 10), (4096 + 17, 7), (1300, 10), (5000, 1)])
def test_block_topk_equals_topk_on_wide_blocks(width, k):
    generator = torch.Generator().manual_seed(width)
    scores = torch.rand(9, width, generator=generator)
    scores[0, :40] += 2.0  # one row's best all in the first groups
    scores[1, -17:] += 2.0  # and another's in the last (partial) group
    scores[2, ::97] = 5.0  # ties at the top, spread over many groups
    got_scores, got_index = block_topk(scores, k)
    want_scores, want_index = torch.topk(scores, k, dim=1)
    torch.testing.assert_close(got_scores, want_scores, rtol=0, atol=0)
    assert torch.equal(torch.gather(scores, 1, got_index), got_scores)  # indices point at those scores
    assert torch.equal(got_index[3:], want_index[3:])  # no ties there: the same columns


def test_grouped_search_equals_brute_force_on_a_larger_corpus():
    rng = np.random.default_rng(1)
    queries = rng.normal(size=(40, 32)).astype(np.float32)
    corpus = rng.normal(size=(6001, 32)).astype(np.float32)
    index, scores = exact_topk(queries, corpus, 10, corpus_chunk=3000)  # 3000 / (10 * 32) > 4: grouped
    ref_index, ref_scores = brute_force(queries, corpus, 10)
    np.testing.assert_array_equal(index, ref_index)
    np.testing.assert_allclose(scores, ref_scores, atol=1e-5)


@pytest.mark.parametrize("width,k,chunk", [(300, 25, 64), (400, 3, 1000), (5000, 3, 700), (90, 90, 13), (50, 1, 7)])
def test_running_topk_is_exact_under_score_then_lower_row_with_many_equal_scores(width, k, chunk):
    """Equal scores at a row's cut: the lowest corpus rows are kept, whichever way the corpus is cut
    (the grouped block search included), so chunks and shards agree exactly."""
    from bge_eval.search.corpus_search import best_first
    from bge_eval.search.dense import RunningTopK

    rng = np.random.default_rng(width + k)
    scores = rng.integers(0, 9, size=(6, width)).astype(np.float32)
    expected = best_first(np.tile(np.arange(width), (6, 1)), scores, k)
    best = RunningTopK(k)
    for start in range(0, width, chunk):
        best.add(torch.from_numpy(scores[:, start:start + chunk]), start)
    index, values = best_first(*best.result(6))
    assert np.array_equal(index, expected[0]) and np.array_equal(values, expected[1])
