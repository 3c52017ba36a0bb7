#!/usr/bin/env bash
# The GPU checks, prepared as one short script for a lent GPU machine (the `device` tool; see the README's
# "GPU checks"). That machine has PyTorch, Accelerate, matplotlib and tqdm but no internet and no development tools:
# fastcore (the tests' asserts), memcnn and revlib (the benchmark's anchors) travel as wheels in .whl/, fetched here
# first with `bash .ci/gpu.sh --wheels` (needs the package index; .whl/ is git-ignored). On the GPU machine, from the
# repository root, one stage per command (each fits the lent machine's 600 s per command):
#     bash .ci/gpu.sh [STAGE]      (device tool: carry [".whl"]; results under $OUT, else _ci/gpu/)
# STAGE `checks` (the default): every notebook that has `#| cuda` cells, run as `nbdev_test --flags cuda` would
# (.ci/cuda_cells.py: among them the captured step against eager, 00_core and 04_train), then `revnet-bench` on CUDA at
# batch 128 in fp32 and bf16, with the steps captured as CUDA graphs (`reversible+graphs`, `plain+graphs`), the
# profiler's device time beside the wall time. STAGE `bound`: the GPU-bound configurations, cudnn.benchmark on, device
# time beside wall time, the gradient checks on 32 images of the batch (float64 is slow on a GPU): revnet-164 at batch
# 1024 (fp32, bf16), revnet-104 at 224 px (batch 64; fp32, bf16), revvit-b at batch 64 (bf16), and revnet-164 at
# batch 128 with TF32 off (fp32: the fidelity columns against float64 without TF32, to set beside the `checks` run's,
# which has PyTorch's default: TF32 on for cuDNN convolutions). About 8 minutes in all, if a stage's timeouts are not hit.
# `bash .ci/gpu.sh --dry-run [STAGE]` runs the `revnet-bench` commands of a stage on this CPU, cut to one unit per
# stage, batch 2, one round, timeouts 6x (no GPU, no notebooks): it checks that every command parses and runs.
# A second argument, the name of one run (e.g. `bash .ci/gpu.sh bound bench_cuda_bound_vit`), runs only that one.
# Exits non-zero if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--wheels" ]; then
  for p in "fastcore<2" memcnn revlib; do
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
      --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 --platform any -d .whl "$p" || exit 1
  done
  ls .whl; exit 0
fi
dry=0; [ "${1:-}" = "--dry-run" ] && { dry=1; shift; }
stage=${1:-checks}; only=${2:-}
case "$stage" in checks|bound) ;; *) echo "gpu.sh: unknown stage '$stage'; choose checks or bound" >&2; exit 2;; esac
OUT=${OUT:-_ci/gpu}; [ $dry -eq 1 ] && OUT=${OUT%/}-dry; mkdir -p "$OUT"
if ls .whl/*.whl >/dev/null 2>&1 && [ $dry -eq 0 ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    || exit 1
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 MPLBACKEND=Agg
if [ $dry -eq 0 ]; then
  python3 -c "import torch; assert torch.cuda.is_available(), 'no CUDA GPU'; print('torch', torch.__version__, torch.cuda.get_device_name())" \
    || exit 1
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
fi
fail=0
bench() {  # bench TIMEOUT_S NAME ARGS...: one revnet-bench run, its log and files under $OUT (dry run: cut down, CPU)
  local t=$1 name=$2; shift 2
  [ -n "$only" ] && [ "$only" != "$name" ] && return 0
  if [ $dry -eq 1 ]; then
    set -- "$@" --device cpu --depth 1 --batch-size 2 --grad-batch 2 --repeats 1 --warmup 0 --threads 1
    case "$*" in *"--model revnet-104"*) set -- "$@" --image-size 64;; esac   # (bf16 at 224 px on a CPU: far too
    case "$*" in *"--model revvit-b"*) set -- "$@" --precisions fp32;; esac    #  slow; a ViT keeps its image size)
  else
    set -- --device cuda "$@"
  fi
  echo "=== revnet-bench $* --out $OUT/$name"
  [ $dry -eq 1 ] && t=$(( 6 * t ))   # a CPU is slower than the GPU the timeouts are sized for
  timeout "$t" python3 -m revnet.bench "$@" --out "$OUT/$name" 2>&1 | tee "$OUT/$name.log"
  [ "${PIPESTATUS[0]}" -eq 0 ] || { echo "FAILED: $name"; fail=1; }
}
EAGER=reversible,plain,checkpoint,memcnn,revlib
if [ "$stage" = checks ]; then
  if [ $dry -eq 0 ]; then
    nbs=$(grep -l '#| cuda' nbs/[0-9]*.ipynb)
    # (the two timeouts together stay under the lent machine's 600 s per command, with time for the install)
    timeout 330 python3 .ci/cuda_cells.py $nbs 2>&1 | tee "$OUT/cuda_cells.log"; [ "${PIPESTATUS[0]}" -eq 0 ] || fail=1
  fi
  bench 190 bench_cuda --model revnet-164 --batch-size 128 --precisions fp32,bf16 --device-time \
    --variants $EAGER,baseline,reversible+fused,reversible+graphs,plain+graphs
  for f in nbs/bench_cuda.*; do [ -f "$f" ] && cp "$f" "$OUT/nb_$(basename "$f")"; done   # 07's CUDA cell writes these
else
  # (the four timeouts together: 550 s, under the 600 s per command)
  bench 200 bench_cuda_bound_164 --model revnet-164 --batch-size 1024 --precisions fp32,bf16 --repeats 3 \
    --cudnn-benchmark --device-time --grad-batch 32 --variants $EAGER
  bench 160 bench_cuda_bound_104 --model revnet-104 --batch-size 64 --precisions fp32,bf16 --repeats 3 \
    --cudnn-benchmark --device-time --grad-batch 16 --variants $EAGER
  bench 110 bench_cuda_bound_vit --model revvit-b --batch-size 64 --precisions bf16 --repeats 3 \
    --cudnn-benchmark --device-time --grad-batch 16 --variants reversible,plain,checkpoint,baseline
  bench 80 bench_cuda_notf32 --model revnet-164 --batch-size 128 --precisions fp32 --repeats 3 --tf32 off \
    --variants $EAGER
fi
echo "gpu $stage$([ $dry -eq 1 ] && echo ' (dry run, CPU)'): $([ $fail -eq 0 ] && echo passed || echo FAILED)"; exit $fail
