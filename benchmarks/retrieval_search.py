"""Full-corpus retrieval search: bge_eval's CorpusSearch (running top-k on the device, lists built
once) against mteb's own SearchEncoderWrapper (per-chunk top-k merged into Python heaps), same
vectors, same run. Encoding is taken out: a lookup encoder hands both the same precomputed
vectors through mteb's DataLoaders, so what differs is the search itself.

    python benchmarks/retrieval_search.py     # 1,000 queries x 300,000 documents x 768, top 1,000

Both use mteb's corpus chunks of 50,000 documents and top_k = 1,000 (mteb's retrieval default).
Checks that both return the same documents with the same scores. Needs mteb (not on the GPU
image). Writes benchmarks/results/retrieval_search_<device>_<date>.json.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from encode_throughput import device_name, write_result


class LookupEncoder:
    """mteb's EncoderProtocol over precomputed vectors: "query 12" is query row 12, "doc 7" corpus row 7."""

    mteb_model_meta = None

    def __init__(self, queries: torch.Tensor, corpus: torch.Tensor, device: torch.device) -> None:
        self.queries, self.corpus, self.device = queries, corpus, device

    def encode(self, inputs, **kwargs) -> np.ndarray:
        texts = [text for batch in inputs for text in batch["text"]]
        rows = torch.tensor([int(text.split()[-1]) for text in texts], dtype=torch.long)
        table = self.queries if texts and texts[0].strip().startswith("query") else self.corpus
        return table[rows].numpy()

    def similarity(self, a, b) -> torch.Tensor:
        from bge_eval.search.dense import cosine_scores

        return cosine_scores(torch.as_tensor(a).to(self.device), torch.as_tensor(b).to(self.device))


def run_search(searcher, metadata, corpus, queries, top_k: int) -> dict[str, dict[str, float]]:
    where = {"task_metadata": metadata, "hf_split": "test", "hf_subset": "default"}
    searcher.index(corpus, encode_kwargs={"batch_size": 32}, num_proc=None, **where)
    return searcher.search(queries, top_k=top_k, encode_kwargs={"batch_size": 32}, num_proc=None, **where)


def main() -> None:
    import mteb
    from datasets import Dataset
    from mteb.models.search_wrappers import SearchEncoderWrapper

    from bge_eval.search.corpus_search import CorpusSearch

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queries", type=int, default=1_000)
    parser.add_argument("--docs", type=int, default=300_000)
    parser.add_argument("--dim", type=int, default=768)
    parser.add_argument("--top-k", type=int, default=1_000)
    parser.add_argument("--device", default=None)
    args = parser.parse_args()
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))

    # clustered vectors, so neighbours are meaningful and near-ties occur as in real corpora
    generator = torch.Generator().manual_seed(0)
    centres = torch.randn(256, args.dim, generator=generator)

    def clustered(n: int) -> torch.Tensor:
        picks = torch.randint(0, 256, (n,), generator=generator)
        return centres[picks] + 0.5 * torch.randn(n, args.dim, generator=generator)

    encoder = LookupEncoder(clustered(args.queries), clustered(args.docs), device)
    metadata = mteb.get_task("SciFact").metadata  # a text retrieval task's metadata (no data loaded)
    corpus = Dataset.from_dict({"id": [f"d{i}" for i in range(args.docs)], "title": [""] * args.docs,
                                "text": [f"doc {i}" for i in range(args.docs)]})
    queries = Dataset.from_dict({"id": [f"q{i}" for i in range(args.queries)],
                                 "text": [f"query {i}" for i in range(args.queries)]})

    timings, results = {}, {}
    for name, searcher in {"mteb": SearchEncoderWrapper(encoder), "harness": CorpusSearch(encoder)}.items():
        start = time.perf_counter()
        results[name] = run_search(searcher, metadata, corpus, queries, args.top_k)
        timings[name] = time.perf_counter() - start
        print(f"{name}: {timings[name]:.1f} s")

    same_docs = np.mean([results["harness"][q].keys() == results["mteb"][q].keys() for q in results["mteb"]])
    top10 = np.mean([
        set(sorted(results["harness"][q], key=results["harness"][q].get)[-10:])
        == set(sorted(results["mteb"][q], key=results["mteb"][q].get)[-10:])
        for q in results["mteb"]
    ])
    max_diff = max(abs(results["harness"][q][d] - s) for q in results["mteb"] for d, s in results["mteb"][q].items()
                   if d in results["harness"][q])
    row = {
        "queries": args.queries, "docs": args.docs, "dim": args.dim, "top_k": args.top_k, "corpus_chunk": 50_000,
        "mteb_search_s": round(timings["mteb"], 2), "harness_search_s": round(timings["harness"], 2),
        "speedup_harness_over_mteb": round(timings["mteb"] / timings["harness"], 2),
        "queries_with_same_top_k_documents": round(float(same_docs), 4),
        "queries_with_same_top_10": round(float(top10), 4), "max_score_difference": float(max_diff),
    }
    print(row)
    write_result("retrieval_search", device_name(device), [row], "retrieval_search")


if __name__ == "__main__":
    main()
