"""Exact dense search: cosine scores and top-k over a corpus in chunks, on the GPU when there
is one (fp16 operands, fp32 scores) and with the same code on the CPU (fp32)."""

from __future__ import annotations

import numpy as np
import torch


def _unit_operand(vectors: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Unit rows (normalised in fp32) on the device, as the product's operand type:
    fp16 on CUDA (tensor cores, half the memory), fp32 on the CPU."""
    unit = torch.nn.functional.normalize(vectors.to(device, non_blocking=True).float(), dim=-1)
    return unit.half() if device.type == "cuda" else unit


def _matmul_fp32_out(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """a @ b.T with fp32 results. fp16 operands (CUDA) are accumulated and returned in fp32,
    so no spurious ties from fp16 rounding."""
    if a.dtype != torch.float16:
        return a @ b.T
    try:
        return torch.mm(a, b.T, out_dtype=torch.float32)
    except (TypeError, RuntimeError):  # older torch: no out_dtype; fp32 with TF32 tensor cores
        return a.float() @ b.float().T


def cosine_scores(queries: torch.Tensor, docs: torch.Tensor) -> torch.Tensor:
    """(Q, D) cosine similarities in fp32, on the queries' device."""
    return _matmul_fp32_out(_unit_operand(queries, queries.device), _unit_operand(docs, queries.device))


def exact_topk(
    queries: np.ndarray | torch.Tensor,
    corpus: np.ndarray | torch.Tensor,
    k: int,
    *,
    device: str | torch.device = "cpu",
    corpus_chunk: int = 262_144,
    query_chunk: int = 4_096,
) -> tuple[np.ndarray, np.ndarray]:
    """Top-k corpus indices and fp32 cosine scores per query (best first), exact, in chunks.

    The corpus is normalised once and kept on the device (fp16 on CUDA: half the memory and
    tensor-core products; fp32 on CPU); each (query chunk x corpus chunk) product comes out
    in fp32 and is merged into a running top-k."""
    device = torch.device(device)
    q_all = torch.as_tensor(queries)
    c_all = torch.as_tensor(corpus)
    k = min(k, c_all.shape[0])
    out_scores = np.empty((q_all.shape[0], k), dtype=np.float32)
    out_index = np.empty((q_all.shape[0], k), dtype=np.int64)
    chunks = [_unit_operand(c_all[s : s + corpus_chunk], device)
              for s in range(0, c_all.shape[0], corpus_chunk)]
    for q_start in range(0, q_all.shape[0], query_chunk):
        q = _unit_operand(q_all[q_start : q_start + query_chunk], device)
        best_scores = torch.full((q.shape[0], 0), float("-inf"), device=device)
        best_index = torch.zeros((q.shape[0], 0), dtype=torch.long, device=device)
        offset = 0
        for chunk in chunks:
            scores = _matmul_fp32_out(q, chunk)
            top_scores, top_index = torch.topk(scores, min(k, scores.shape[1]), dim=1)
            merged_scores = torch.cat([best_scores, top_scores], dim=1)
            merged_index = torch.cat([best_index, top_index + offset], dim=1)
            best_scores, order = torch.topk(merged_scores, min(k, merged_scores.shape[1]), dim=1)
            best_index = torch.gather(merged_index, 1, order)
            offset += chunk.shape[0]
        out_scores[q_start : q_start + q.shape[0]] = best_scores.cpu().numpy()
        out_index[q_start : q_start + q.shape[0]] = best_index.cpu().numpy()
    return out_index, out_scores

