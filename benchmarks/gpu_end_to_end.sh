#!/usr/bin/env bash
# Issue 22's GPU measurements in one short run (under 10 minutes on one H100 or H200):
#   1. end to end: every task of ../shared/data, `bge_eval run` against plain mteb.evaluate with
#      sentence-transformers, cold and warm (benchmarks/end_to_end.py), on a random-weights
#      bge-base-shaped checkpoint (no BGE weights can be had; timing does not depend on them);
#   2. the encoder alone: bge-base real tokens/s and its lowest cosine to fp32 (encode_throughput.py).
#
# Prepare on the development machine (into .gpu/, ignored by git; about 50 MB):
#     bash benchmarks/gpu_end_to_end.sh --prepare
# copies BERT's tokenizer files, packs ../shared/data (which does not travel) and downloads
# Python 3.12 wheels of what the device image lacks (mteb and its needs; polars 1.0.0, the
# smallest that mteb accepts, is only imported there). Then run once through the device tool:
#     run(command="bash benchmarks/gpu_end_to_end.sh 2>&1 | tee $OUT/log.txt", carry=[".gpu"], timeout_s=590)
# SMOKE=1 runs the same steps on the CPU with two small tasks and bge-small (checks this
# script without a GPU; the wheels are not installed then). Results go straight into $OUT when
# set, else benchmarks/results (SMOKE=1: /tmp/gpu_end_to_end_smoke).
set -u
cd "$(dirname "$0")/.."
WHEELS="mteb==2.26.24 datasets==5.2.0 polars==1.0.0 pydantic==2.14.4 pydantic-core==2.50.5 \
annotated-types==0.8.0 typing-inspection==0.4.5 pytrec-eval-terrier==0.5.11 dill==0.4.1 multiprocess==0.70.19"

if [[ "${1:-}" == "--prepare" ]]; then
    set -e
    mkdir -p .gpu/tokenizer .gpu/whl
    bash benchmarks/gpu_check.sh --prepare  # the tokenizer files
    tar -C ../shared -czf .gpu/data.tgz data
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_24_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 -d .gpu/whl $WHEELS
    du -sh .gpu
    exit 0
fi

export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
PY=${PYTHON:-python3}
DATA=/tmp/gpu_end_to_end_data
mkdir -p "$DATA" && tar -C "$DATA" -xzf .gpu/data.tgz
if [[ "${SMOKE:-0}" == 1 ]]; then
    DEVICE=cpu; SIZE=small; TASKS=(BIOSSES STSBenchmark); E2E_LIMIT=400
    ENCODE=(--sizes small --passages 60 --repeats 1)
    RESULTS=${BGE_EVAL_BENCH_RESULTS:-/tmp/gpu_end_to_end_smoke}
else
    nvidia-smi -L
    $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .gpu/whl/*.whl \
        || exit 1
    export PYTHONPATH="$PYTHONPATH:/tmp/site"
    DEVICE=cuda; SIZE=base; TASKS=(all); E2E_LIMIT=400
    ENCODE=(--sizes base --passages 20000 --repeats 2 --reference-passages 5000)
    RESULTS=${OUT:-benchmarks/results}
fi
mkdir -p "$RESULTS"
$PY -c "import torch, transformers, sentence_transformers as st, pyarrow, datasets, mteb; print('torch', \
torch.__version__, 'transformers', transformers.__version__, 'sentence-transformers', st.__version__, 'pyarrow', \
pyarrow.__version__, 'datasets', datasets.__version__, 'mteb', mteb.__version__, 'cuda', torch.cuda.is_available())" \
    || exit 1  # a wheel that does not fit the image: stop before spending the device's time

echo "=== end to end (limit ${E2E_LIMIT}s)"
start=$SECONDS
timeout "$E2E_LIMIT" $PY benchmarks/end_to_end.py --data-dir "$DATA/data" --tasks "${TASKS[@]}" --device $DEVICE \
    --random-bge $SIZE --tokenizer .gpu/tokenizer --instruction-policy none --results "$RESULTS"
echo "=== end to end: rc=$? in $((SECONDS - start))s"

echo "=== encoder alone (limit 120s)"
start=$SECONDS
(cd benchmarks && BGE_EVAL_BENCH_RESULTS="$RESULTS" timeout 120 $PY encode_throughput.py "${ENCODE[@]}" \
    --tokenizer "$OLDPWD/.gpu/tokenizer")
echo "=== encoder alone: rc=$? in $((SECONDS - start))s"
