"""FlagEmbedding's own encoding and reranking, run in the peer environment (.venv-peers, built
by .ci/peers): `python flag_oracle.py REQUEST.json OUT.npz`. The request is {"jobs": [...]}; each
job's arrays are saved as "<job name>.<array>".

embed: FlagModel(..., pooling_method="cls", use_fp16=False).encode_queries / encode_corpus;
rerank: FlagReranker(..., use_fp16=False).compute_score. Everything on the CPU, in fp32."""

import json
import sys

import numpy as np


def run_job(job: dict) -> dict:
    if job["kind"] == "embed":
        from FlagEmbedding import FlagModel

        model = FlagModel(job["checkpoint"], normalize_embeddings=job["normalize"], use_fp16=False,
                          query_instruction_for_retrieval=job["instruction"], devices="cpu",
                          pooling_method="cls", batch_size=4)
        return {"queries": model.encode_queries(job["queries"]), "passages": model.encode_corpus(job["passages"])}
    from FlagEmbedding import FlagReranker

    model = FlagReranker(job["checkpoint"], use_fp16=False, devices="cpu", batch_size=4)
    return {"scores": model.compute_score([tuple(pair) for pair in job["pairs"]])}


def main(request_file: str, out_file: str) -> None:
    with open(request_file, encoding="utf-8") as handle:
        jobs = json.load(handle)["jobs"]
    arrays = {f"{job['name']}.{key}": np.asarray(value, dtype=np.float64)
              for job in jobs for key, value in run_job(job).items()}
    np.savez(out_file, **arrays)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
