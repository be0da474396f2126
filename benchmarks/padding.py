"""Padding tokens the encoder computes per real token, on the benchmark's synthetic passages and
on real local texts, for four ways of cutting the same texts into batches (same limits):

- harness: the tokenising stage (tokenization.planned_chunks: length order by bytes, small
  chunks, rows kept back for the next chunk);
- chunks_sorted_alone: each chunk of 8,192 texts (first 1,024, doubling) sorted alone, the
  harness before this planner;
- one_sort: every text sorted by tokens at once (the least padding for these limits);
- sentence_transformers: texts by characters, longest first, batches of --st-batch rows, each
  padded to its longest (no multiple), as its encode does.

    python benchmarks/padding.py                       # GPU limits: 65,536 tokens, rows <= 1,024, widths x 8
    python benchmarks/padding.py --data-dir ../shared/data

No model runs, so any machine gives the same numbers. Writes benchmarks/results/padding_no-model_<date>.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from encode_throughput import default_tokenizer_dir, st_padded_tokens, synthetic_passages, write_result
from transformers import AutoTokenizer

from bge_eval.encoding.batching import plan_padded
from bge_eval.encoding.settings import PipelineSettings
from bge_eval.encoding.tokenization import BatchLimits, TokenIds, chunk_bounds, planned_chunks

REAL_SETS = {  # name: (file under the data folder, text fields joined)
    "SciFact corpus (en)": ("SciFact/corpus.jsonl", ("title", "text")),
    "LCQMC sentences (zh)": ("LCQMC/test.jsonl", ("sentence1",)),
    "Banking77 train (en, short)": ("Banking77Classification/train.jsonl", ("text",)),
}


def read_texts(path: Path, fields: tuple[str, ...]) -> list[str]:
    texts = []
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            texts.append(" ".join(str(record[f]) for f in fields if record.get(f)))
    return texts


def padding_shares(texts: list[str], token_ids: TokenIds, limits: BatchLimits, st_batch: int) -> dict:
    ids = token_ids(texts)
    real = sum(len(row) for row in ids)

    def padded(batches) -> int:
        return sum(batch.padded_tokens for batch in batches)

    def planned(rows) -> list:
        return plan_padded(ids, rows, limits.max_rows, limits.token_budget, limits.pad_multiple, limits.pad_id)

    old_chunks = chunk_bounds(len(texts), 1_024, 8_192, growth=2)  # an earlier harness's chunks
    ways = {
        "harness": padded(b for chunk in planned_chunks(texts, token_ids, limits, PipelineSettings()) for b in chunk),
        "chunks_sorted_alone": padded(b for start, end in old_chunks for b in planned(range(start, end))),
        "one_sort": padded(planned(range(len(texts)))),
        "sentence_transformers": st_padded_tokens(ids, texts, st_batch),
    }
    return {"texts": len(texts), "mean_tokens": round(real / len(texts), 1),
            **{way: round(tokens / real - 1, 4) for way, tokens in ways.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--tokenizer", type=Path, default=None, help="BERT uncased tokenizer files (default: MiniLM's)")
    parser.add_argument("--passages", type=int, default=20_000)
    parser.add_argument("--token-budget", type=int, default=65_536)
    parser.add_argument("--max-rows", type=int, default=1_024)
    parser.add_argument("--pad-multiple", type=int, default=8)
    parser.add_argument("--st-batch", type=int, default=256)
    args = parser.parse_args()
    tokenizer = AutoTokenizer.from_pretrained(str(args.tokenizer or default_tokenizer_dir()))
    token_ids = TokenIds(tokenizer, 512)
    limits = BatchLimits(args.max_rows, args.token_budget, args.pad_multiple, tokenizer.pad_token_id or 0)
    sets = {f"synthetic passages ({args.passages:,})": synthetic_passages(args.passages, tokenizer)}
    for name, (relative, fields) in REAL_SETS.items():
        if (args.data_dir / relative).is_file():
            sets[name] = read_texts(args.data_dir / relative, fields)
        else:
            print(f"skipped {name}: no {args.data_dir / relative}")
    if len(sets) == len(REAL_SETS) + 1:  # scripts mixed: bytes guess tokens, characters would not
        sets["mixed (5,000 of each real set)"] = [t for name in REAL_SETS for t in sets[name][:5_000]]
    rows = []
    for name, texts in sets.items():
        rows.append({"texts_from": name, **padding_shares(texts, token_ids, limits, args.st_batch)})
        print(json.dumps(rows[-1], ensure_ascii=False))
    write_result("padding", "no-model", rows, "padding", token_budget=limits.token_budget, max_rows=limits.max_rows,
                 pad_multiple=limits.pad_multiple, st_batch=args.st_batch)

if __name__ == "__main__":
    main()
