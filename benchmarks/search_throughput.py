"""Exact dense search throughput: bge_eval's chunked top-k (search.exact_topk) against a plain
fp32 search (scores = queries @ corpus.T in fp32 per corpus chunk, then top-k, as mteb's
default similarity does), same data, same run.

    python benchmarks/search_throughput.py          # CPU: 1,000 x 100,000 x 768
    python benchmarks/search_throughput.py          # GPU: 10,000 x 1,000,000 x 768 (the H100 goal)

Effective TFLOP/s counts the 2*Q*N*D multiply-adds of the score matrix. The plain search
runs on the first --plain-queries queries only (fp32 without tensor cores is slow on a GPU);
the ratio compares TFLOP/s. Also checks that the two agree on those queries (top-10 overlap,
largest score difference). Writes benchmarks/results/search_<device>_<date>.json.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch
from encode_throughput import PEAK_TFLOPS, device_name, timed, write_result

from bge_eval.search.dense import exact_topk


def plain_fp32_topk(queries: torch.Tensor, corpus: torch.Tensor, k: int, device: torch.device,
                    corpus_chunk: int = 262_144) -> tuple[np.ndarray, np.ndarray]:
    """The alternative: fp32 operands, the whole query set against each corpus chunk."""
    q = torch.nn.functional.normalize(queries.to(device).float(), dim=-1)
    c = torch.nn.functional.normalize(corpus.to(device).float(), dim=-1)
    best_s = torch.full((q.shape[0], 0), float("-inf"), device=device)
    best_i = torch.zeros((q.shape[0], 0), dtype=torch.long, device=device)
    for start in range(0, c.shape[0], corpus_chunk):
        scores = q @ c[start : start + corpus_chunk].T
        s, i = torch.topk(scores, min(k, scores.shape[1]), dim=1)
        best_s, order = torch.topk(torch.cat([best_s, s], 1), min(k, best_s.shape[1] + s.shape[1]), dim=1)
        best_i = torch.gather(torch.cat([best_i, i + start], 1), 1, order)
    return best_i.cpu().numpy(), best_s.cpu().numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queries", type=int, default=None, help="default 10000 on GPU, 1000 on CPU")
    parser.add_argument("--docs", type=int, default=None, help="default 1000000 on GPU, 100000 on CPU")
    parser.add_argument("--dim", type=int, default=768)
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument("--plain-queries", type=int, default=None, help="default 1000 on GPU, all on CPU")
    parser.add_argument("--device", default=None)
    args = parser.parse_args()
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    gpu = device.type == "cuda"
    n_q, n_d = args.queries or (10_000 if gpu else 1_000), args.docs or (1_000_000 if gpu else 100_000)
    n_plain = min(n_q, args.plain_queries or (1_000 if gpu else n_q))
    # clustered vectors, so neighbours are meaningful and near-ties occur as in real corpora;
    # made on the device (a million rows of numpy normals would take longer than the search)
    generator = torch.Generator(device=device).manual_seed(0)
    centres = torch.randn(256, args.dim, generator=generator, device=device)

    def clustered(n: int) -> torch.Tensor:
        picks = torch.randint(0, 256, (n,), generator=generator, device=device)
        return centres[picks] + 0.5 * torch.randn(n, args.dim, generator=generator, device=device)

    corpus, queries = clustered(n_d), clustered(n_q)
    exact_topk(queries[:64], corpus[:4096], args.k, device=device)  # warm-up (kernels, allocator)
    plain_fp32_topk(queries[:64], corpus[:4096], args.k, device)
    ours_s, (ours_i, ours_scores) = timed(lambda: exact_topk(queries, corpus, args.k, device=device), device)
    plain_s, (ref_i, ref_scores) = timed(lambda: plain_fp32_topk(queries[:n_plain], corpus, args.k, device), device)

    flops = 2.0 * n_q * n_d * args.dim
    plain_tflops = 2.0 * n_plain * n_d * args.dim / plain_s / 1e12
    ours_tflops = flops / ours_s / 1e12
    name = device_name(device)
    peak = next((v for key, v in PEAK_TFLOPS.items() if key in name), None)
    pairs = zip(ours_i[:n_plain], ref_i, strict=True)
    overlap = np.mean([len(set(a[:10]) & set(b[:10])) / 10 for a, b in pairs])
    row = {
        "queries": n_q, "docs": n_d, "dim": args.dim, "k": args.k, "plain_queries": n_plain,
        "harness_s": round(ours_s, 3), "plain_fp32_s": round(plain_s, 3),
        "harness_tflops": round(ours_tflops, 3), "plain_fp32_tflops": round(plain_tflops, 3),
        "ratio_harness_over_plain": round(ours_tflops / plain_tflops, 3),
        "share_of_peak": None if peak is None else round(ours_tflops / peak, 4),
        "top10_overlap_with_fp32": round(float(overlap), 5),
        "max_abs_score_difference": float(np.max(np.abs(ours_scores[:n_plain] - ref_scores))),
        "score_dtype": str(ours_scores.dtype),
    }
    print(json.dumps(row))
    write_result("search_throughput", name, [row], "search")


if __name__ == "__main__":
    main()
