#!/usr/bin/env bash
# The GPU checks of minim's engine in one run, for a machine with a CUDA GPU (from the repository root):
#   1. tests/test_cuda.py: fp16 autocast + GradScaler, channels_last weights, per-batch Normalize on the
#      GPU, `minim train --launcher pytorch --sync-bn --amp --channels-last` over NCCL, NCCL test metrics
#      equal to one process's, CUDA inference equal to CPU inference;
#   2. scripts/bench_dist.py --skip-cpu: single-GPU images/s with fp32, AMP, channels_last and both;
#   3. scripts/bench_train.py --real on CUDA: a downloaded ImageNet config (MobileNetV2, ResNet-50) on a folder
#      of generated JPEGs, minim against a torchvision-reference-style loop with the same settings, in fp32,
#      AMP, channels_last and AMP + channels_last (minim infer against a per-image loop once per model);
#   4. NCCL DDP on the GPUs present: the same job with `minim train --launcher pytorch --gpus N` (N >= 2).
# Output goes to the terminal and to ${OUT:-.}/gpu-check.log. Uses the installed minim if there is one,
# else this checkout through PYTHONPATH (so it also runs where `pip install -e .` is not possible).
# Options: BENCH_ARGS='--gpu-epochs 2 --gpu-images 1024' shortens step 2; REAL_IMAGES (1000) and REAL_EPOCHS (2)
# size step 3. `bash scripts/check_gpu.sh --device cpu` is a smoke run of every python piece on the CPU
# (tiny sizes, step 1 skipped, 2 gloo processes for step 4): it checks the script, not the GPU.
set -uo pipefail
cd "$(dirname "$0")/.."
device=cuda
if [ "${1:-}" = "--device" ]; then
    device="${2:-}"
fi
if [ "$device" != cuda ] && [ "$device" != cpu ]; then
    echo "usage: bash scripts/check_gpu.sh [--device cuda|cpu]" >&2
    exit 2
fi
log="${OUT:-.}/gpu-check.log"
: > "$log"
say() { echo "$@" | tee -a "$log"; }
failures=0
step() {  # step NAME COMMAND...: run it, log it, count a failure
    local name=$1
    shift
    say "== $name"
    "$@" 2>&1 | tee -a "$log"
    local status=${PIPESTATUS[0]}
    [ "$status" -eq 0 ] || { failures=$((failures + 1)); say "== $name: exit $status"; }
}

if ! python -c "import minim.cls" 2>/dev/null; then
    [ -e minim/model_index ] || ln -sfn ../model_index minim/model_index
    export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
fi
say "== $(date -u +%FT%TZ) $(python -c 'import torch, torchvision; print("torch", torch.__version__, "torchvision", torchvision.__version__, "cuda", torch.version.cuda)')"

if [ "$device" = cuda ]; then
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | tee -a "$log"
    gpus=$(python -c 'import torch; print(torch.cuda.device_count())')
    images=${REAL_IMAGES:-1000}
    epochs=${REAL_EPOCHS:-2}
    archs="mobilenet_v2 resnet50"
    step "tests/test_cuda.py" python -m pytest -m cuda -v -p no:cacheprovider tests/test_cuda.py
    # shellcheck disable=SC2086
    step "scripts/bench_dist.py --skip-cpu ${BENCH_ARGS:-}" python scripts/bench_dist.py --skip-cpu ${BENCH_ARGS:-}
else
    gpus=2
    images=25
    epochs=1
    archs="mobilenet_v2"
    # shellcheck disable=SC2086
    step "scripts/bench_dist.py --skip-cpu --gpu-part-on-cpu (smoke)" python scripts/bench_dist.py --skip-cpu \
        --gpu-part-on-cpu --gpu-images 16 --gpu-epochs 1 --gpu-batch 8 --gpu-size 32 ${BENCH_ARGS:-}
fi

data=$(mktemp -d)
trap 'rm -rf "$data"' EXIT
for arch in $archs; do
    infer=""
    for variant in "" "--amp" "--channels-last" "--amp --channels-last"; do
        # shellcheck disable=SC2086
        step "bench_train.py --real --device $device --arch $arch $variant" python scripts/bench_train.py --real \
            --device "$device" --arch "$arch" --images "$images" --epochs "$epochs" --data "$data/images" \
            $variant $infer
        infer="--skip-inference"
    done
done
if [ "$gpus" -ge 2 ]; then
    step "bench_train.py --real --device $device --gpus $gpus (DDP)" python scripts/bench_train.py --real \
        --device "$device" --gpus "$gpus" --images "$images" --epochs "$epochs" --data "$data/images" \
        --skip-inference
else
    say "== DDP: skipped ($gpus GPU)"
fi

say "== $failures step(s) failed"
[ "$failures" -eq 0 ]
