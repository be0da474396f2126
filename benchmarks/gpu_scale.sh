#!/usr/bin/env bash
# Issue 31's GPU step: the scale benchmark at 1M synthetic MSMARCO-shaped passages with the
# bge-base shape (random weights), bge_eval against plain mteb + sentence-transformers, on one GPU.
# Prepare as for gpu_end_to_end.sh (`bash benchmarks/gpu_end_to_end.sh --prepare`: the tokenizer
# and the wheels in .gpu/), then run once through the device tool:
#     run(command="bash benchmarks/gpu_scale.sh 2>&1 | tee $OUT/log.txt", carry=[".gpu"], timeout_s=590)
# SMOKE=1 runs it on the CPU with 2,000 passages and the tiny shape (checks this script without a GPU).
set -u
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
PY=${PYTHON:-python3}
if [[ "${SMOKE:-0}" == 1 ]]; then
    ARGS=(--shape tiny --device cpu); RESULTS=/tmp/gpu_scale_smoke
else
    nvidia-smi -L
    $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .gpu/whl/*.whl \
        || exit 1
    export PYTHONPATH="$PYTHONPATH:/tmp/site"
    ARGS=(--docs 1000000 --shape base --device cuda --tokenizer .gpu/tokenizer); RESULTS=${OUT:-benchmarks/results}
fi
mkdir -p "$RESULTS"
timeout 560 $PY benchmarks/scale.py "${ARGS[@]}" --work /tmp/bge_eval_scale_gpu --results "$RESULTS"
echo "=== scale: rc=$?"
