#!/usr/bin/env bash
# The GPU checks, prepared as one short script for a lent GPU machine (the `device` tool; see the README's
# "GPU checks"). That machine has PyTorch, Accelerate, matplotlib and tqdm but no internet and no development tools:
# fastcore (the tests' asserts), memcnn and revlib (the benchmark's anchors) travel as wheels in .whl/, fetched here
# first with `bash .ci/gpu.sh --wheels` (needs the package index; .whl/ is git-ignored). On the GPU machine, from the repository root:
#     bash .ci/gpu.sh            (device tool: carry [".whl"]; results under $OUT, else _ci/gpu/)
# It runs every notebook that has `#| cuda` cells as `nbdev_test --flags cuda` would (.ci/cuda_cells.py), then
# `revnet-bench` on CUDA at batch 128 in fp32 and bf16. Exits non-zero if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--wheels" ]; then
  for p in "fastcore<2" memcnn revlib; do
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
      --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 --platform any -d .whl "$p" || exit 1
  done
  ls .whl; exit 0
fi
OUT=${OUT:-_ci/gpu}; mkdir -p "$OUT"
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    || exit 1
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 MPLBACKEND=Agg
python3 -c "import torch; assert torch.cuda.is_available(), 'no CUDA GPU'; print('torch', torch.__version__, torch.cuda.get_device_name())" \
  || exit 1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
fail=0
nbs=$(grep -l '#| cuda' nbs/[0-9]*.ipynb)
# (the two timeouts together stay under the lent machine's 600 s per command, with time for the install)
timeout 330 python3 .ci/cuda_cells.py $nbs 2>&1 | tee "$OUT/cuda_cells.log"; [ "${PIPESTATUS[0]}" -eq 0 ] || fail=1
timeout 190 python3 -m revnet.bench --device cuda --model revnet-164 --batch-size 128 --precisions fp32,bf16 \
  --variants reversible,plain,checkpoint,memcnn,revlib,baseline,reversible+fused --out "$OUT/bench_cuda" \
  2>&1 | tee "$OUT/bench.log"; [ "${PIPESTATUS[0]}" -eq 0 ] || fail=1
for f in nbs/bench_cuda.*; do [ -f "$f" ] && cp "$f" "$OUT/nb_$(basename "$f")"; done   # 07's CUDA cell writes these
echo "gpu checks: $([ $fail -eq 0 ] && echo passed || echo FAILED)"; exit $fail
