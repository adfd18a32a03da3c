#!/usr/bin/env bash
# The GPU checks of minim's engine in one run, for a machine with a CUDA GPU (from the repository root):
#   1. tests/test_cuda.py: fp16 autocast + GradScaler, channels_last weights, per-batch Normalize on the
#      GPU, `minim train --launcher pytorch --sync-bn --amp --channels-last` over NCCL, NCCL test metrics
#      equal to one process's, CUDA inference equal to CPU inference;
#   2. scripts/bench_dist.py --skip-cpu: single-GPU images/s with fp32, AMP, channels_last and both.
# Output goes to the terminal and to ${OUT:-.}/gpu-check.log. Uses the installed minim if there is one,
# else this checkout through PYTHONPATH (so it also runs where `pip install -e .` is not possible).
# Options: BENCH_ARGS='--gpu-epochs 2 --gpu-images 1024' to shorten the benchmark.
set -uo pipefail
cd "$(dirname "$0")/.."
log="${OUT:-.}/gpu-check.log"
: > "$log"
say() { echo "$@" | tee -a "$log"; }

if ! python -c "import minim.cls" 2>/dev/null; then
    [ -e minim/model_index ] || ln -sfn ../model_index minim/model_index
    export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
fi
say "== $(date -u +%FT%TZ) $(python -c 'import torch, torchvision; print("torch", torch.__version__, "torchvision", torchvision.__version__, "cuda", torch.version.cuda)')"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | tee -a "$log"

say "== tests/test_cuda.py"
python -m pytest -m cuda -v -p no:cacheprovider tests/test_cuda.py 2>&1 | tee -a "$log"
tests=${PIPESTATUS[0]}

say "== scripts/bench_dist.py --skip-cpu ${BENCH_ARGS:-}"
# shellcheck disable=SC2086
python scripts/bench_dist.py --skip-cpu ${BENCH_ARGS:-} 2>&1 | tee -a "$log"
bench=${PIPESTATUS[0]}

say "== cuda tests exit $tests, benchmark exit $bench"
[ "$tests" -eq 0 ] && [ "$bench" -eq 0 ]
