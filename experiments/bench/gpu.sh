#!/bin/bash
# The GPU checks of one device lease, in order of importance, within one time budget:
#   1. bench.py's MNIST rows at batch 256 (no row of them yet);
#   2. the sweep benchmark at N = 64 on ring8 (the 50x target; its split by phase and arithmetic bound);
#   3. bench.py's DCGAN64 rows at batch 1024 (the 30%-of-bf16-peak and float32 >= 1x PyTorch targets), then the
#      same with JAX_DEFAULT_MATMUL_PRECISION=tensorfloat32 (is XLA's default float32 convolution precision slower
#      than PyTorch's TF32?);
#   4. the sweep benchmark at N = 64 on the 1-D game, and DCGAN64 at batch 64.
# Run from the repository root on a machine without jaxgan installed:
#   OUT=/some/dir bash experiments/bench/gpu.sh [BUDGET_SECONDS]
# Wheels missing there (tensorboardX) are installed from .whl/ when it exists. Logs and JSON land in $OUT.
set -u
budget=${1:-580}
out=${OUT:-/tmp/jaxgan-gpu}
mkdir -p "$out" /tmp/bin
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
fi
export PYTHONPATH=$PWD/src:/tmp/site PYTHONUNBUFFERED=1 PATH=/tmp/bin:$PATH
printf '#!/bin/sh\nexec python3 -m jaxgan.cli "$@"\n' >/tmp/bin/jaxgan-train
chmod +x /tmp/bin/jaxgan-train

# stage NAME CAP COMMAND...: runs COMMAND for at most CAP seconds and never past the budget.
stage() {
  local name=$1 cap=$2 left=$((budget - SECONDS))
  shift 2
  [ "$left" -lt "$cap" ] && cap=$left
  if [ "$cap" -le 10 ]; then
    echo "== $name: skipped, the budget is spent" | tee -a "$out/gpu.log"
    return
  fi
  echo "== $name (at most ${cap} s; ${SECONDS} s in)" | tee -a "$out/gpu.log"
  timeout "$cap" "$@" 2>&1 | tee -a "$out/$name.log" | grep -v -i "warning" | tail -40 | tee -a "$out/gpu.log"
  echo "== $name: exit ${PIPESTATUS[0]} after ${SECONDS} s" | tee -a "$out/gpu.log"
}

nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv | tee -a "$out/gpu.log"
python3 -c "import jax, flax, optax; print('jax', jax.__version__, 'flax', flax.__version__, 'optax', optax.__version__, jax.devices())" 2>&1 | tail -1 | tee -a "$out/gpu.log"

bench="env XLA_PYTHON_CLIENT_MEM_FRACTION=0.45 python3 experiments/bench/bench.py" # PyTorch shares the card
stage bench_mnist_256 80 $bench --arch mnist --batch 256 --steps 20 --rounds 3
stage sweep_ring8 200 python3 experiments/bench/sweep.py --configs ring8 --members 64 --steps ring8=5000 \
  --baseline-runs 2 --no-in-process --out "$out/sweep_ring8.json"
stage bench_dcgan64_1024 140 $bench --arch dcgan64 --batch 1024 --steps 10 --rounds 3
stage bench_dcgan64_1024_tf32 110 env JAX_DEFAULT_MATMUL_PRECISION=tensorfloat32 $bench --arch dcgan64 --batch 1024 \
  --steps 10 --rounds 3
stage sweep_gaussian1d 120 python3 experiments/bench/sweep.py --configs gaussian1d --members 64 --baseline-runs 2 \
  --no-in-process --out "$out/sweep_gaussian1d.json"
stage bench_dcgan64_64 80 $bench --arch dcgan64 --batch 64 --steps 20 --rounds 3
echo "== done after ${SECONDS} s" | tee -a "$out/gpu.log"
