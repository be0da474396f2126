"""Exact dense search: cosine scores and top-k over a corpus in chunks, on the GPU when there
is one (fp16 operands, fp32 scores) and with the same code on the CPU (fp32)."""

from __future__ import annotations

from collections.abc import Callable

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


TOPK_GROUP = 32  # columns per group in block_topk's first pass


def block_topk(scores: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """torch.topk(scores, k, dim=1), the same values, with less memory traffic on wide blocks.

    The columns are cut into groups of TOPK_GROUP and only the k groups with the highest
    maxima are searched: every one of a row's k best scores lies in such a group (a score in
    any other group has k groups' maxima above it). One pass of maxima replaces the several
    passes of a radix select over the whole block."""
    rows, width = scores.shape
    k = min(k, width)
    if k * TOPK_GROUP * 4 > width:
        return torch.topk(scores, k, dim=1)
    grouped = width - width % TOPK_GROUP
    maxima = scores[:, :grouped].view(rows, grouped // TOPK_GROUP, TOPK_GROUP).amax(dim=2)
    groups = torch.topk(maxima, k, dim=1).indices
    offsets = torch.arange(TOPK_GROUP, device=scores.device)
    columns = (groups[:, :, None] * TOPK_GROUP + offsets).view(rows, k * TOPK_GROUP)
    if grouped < width:  # the last, partial group is always searched
        tail = torch.arange(grouped, width, device=scores.device).expand(rows, -1)
        columns = torch.cat([columns, tail], dim=1)
    top_scores, picked = torch.topk(torch.gather(scores, 1, columns), k, dim=1)
    return top_scores, torch.gather(columns, 1, picked)


TIE_ROWS = 256  # rows settled at once where equal scores cross the cut (bounds a mask's memory)


TopN = Callable[[torch.Tensor, int], tuple[torch.Tensor, torch.Tensor]]


def exact_top(candidates: torch.Tensor, k: int, select: TopN, rows_of: torch.Tensor | None = None,
              floor: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Each row's k best candidates (scores, positions), best first, exact under the order (score
    descending, corpus row ascending): where scores equal to the k-th continue past the cut, the
    ones of lowest corpus row are taken. select: a top-n (torch.topk or block_topk), asked for k + 1
    so that such rows show themselves; rows_of: each candidate's corpus row (default: its position);
    floor: a row whose k-th score is below its floor (a running top-k's cut) is left as taken: no
    candidate equal to that score can enter a top-k already cut higher."""
    width = candidates.shape[1]
    if k >= width or k == 0:
        return select(candidates, min(k, width))
    scores, positions = select(candidates, k + 1)
    crossing = scores[:, k] == scores[:, k - 1]
    if floor is not None:
        crossing &= scores[:, k - 1] >= floor
    scores, positions = scores[:, :k], positions[:, :k]
    if not bool(crossing.any()):
        return scores, positions
    scores, positions = scores.clone(), positions.clone()
    for first in range(0, len(scores), TIE_ROWS):  # row windows as views (settling a row without such ties keeps it)
        rows = slice(first, first + TIE_ROWS)
        if bool(crossing[rows].any()):
            scores[rows], positions[rows] = _settle_ties(candidates[rows], scores[rows], positions[rows],
                                                         None if rows_of is None else rows_of[rows])
    return scores, positions


def top_k_rows(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """exact_top over a numpy block of scores (queries x documents): each row's k best (columns,
    scores), best first, equal scores by lower column."""
    top_scores, top_columns = exact_top(torch.from_numpy(np.ascontiguousarray(scores, dtype=np.float32)), k,
                                        torch.topk)
    return top_columns.numpy(), top_scores.numpy()


def _settle_ties(block: torch.Tensor, scores: torch.Tensor, positions: torch.Tensor,
                 rows_of: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """exact_top for rows whose k-th score continues past the cut: the scores above it (all in the
    top-k taken), then the candidates equal to it in corpus-row order, up to k in all."""
    count, k = scores.shape
    cut = scores[:, -1:]
    above = scores > cut
    tie_row, tie_col = (block == cut).nonzero(as_tuple=True)  # by row, then position
    if rows_of is not None:  # by row, then corpus row
        order = torch.argsort(rows_of[tie_row, tie_col], stable=True)
        order = order[torch.argsort(tie_row[order], stable=True)]
        tie_row, tie_col = tie_row[order], tie_col[order]
    per_row = torch.bincount(tie_row, minlength=count)
    rank = torch.arange(len(tie_row), device=block.device) - (torch.cumsum(per_row, 0) - per_row)[tie_row]
    kept = rank < (k - above.sum(dim=1))[tie_row]
    row = torch.cat([above.nonzero(as_tuple=True)[0], tie_row[kept]])
    column = torch.cat([positions[above], tie_col[kept]])
    chosen = column[torch.argsort(row, stable=True)].view(count, k)
    values, best = torch.sort(torch.gather(block, 1, chosen), dim=1, descending=True)
    return values, torch.gather(chosen, 1, best)


def _topk(candidates: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    values, positions = torch.topk(candidates, k, dim=1)
    return values, positions


class RunningTopK:
    """The k best scores per query row, and their column indices, over blocks of scores
    (query rows x a slice of the corpus) seen so far; kept on the blocks' device. Exact under
    the order (score descending, corpus row ascending), so equal scores never make two ways of
    cutting the corpus (chunks, shards) disagree."""

    def __init__(self, k: int) -> None:
        self.k = k
        self.scores: torch.Tensor | None = None
        self.index: torch.Tensor | None = None

    def add(self, scores: torch.Tensor, offset: int) -> None:
        """Merge a (Q, n) block whose column j is corpus row offset + j."""
        full = self.scores is not None and self.scores.shape[1] == self.k
        floor = self.scores[:, -1] if full and self.scores is not None else None  # the running cut
        top_scores, top_index = exact_top(scores, self.k, block_topk, floor=floor)
        top_index = top_index + offset
        if self.scores is not None and self.index is not None:
            candidates = torch.cat([self.scores, top_scores], dim=1)
            rows = torch.cat([self.index, top_index], dim=1)
            top_scores, order = exact_top(candidates, self.k, _topk, rows_of=rows)
            top_index = torch.gather(rows, 1, order)
        self.scores, self.index = top_scores, top_index

    def result(self, queries: int) -> tuple[np.ndarray, np.ndarray]:
        """(indices, fp32 scores), each (queries, <= k), best first; one copy from the device."""
        if self.scores is None or self.index is None:  # an empty corpus
            return np.zeros((queries, 0), dtype=np.int64), np.zeros((queries, 0), dtype=np.float32)
        return self.index.cpu().numpy(), self.scores.float().cpu().numpy()


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
        best = RunningTopK(k)
        offset = 0
        for chunk in chunks:
            best.add(_matmul_fp32_out(q, chunk), offset)
            offset += chunk.shape[0]
        rows = slice(q_start, q_start + q.shape[0])
        out_index[rows], out_scores[rows] = best.result(q.shape[0])
    return out_index, out_scores
