#!/usr/bin/env bash
# tools/gpu_report.sh --quick: what a short session on a borrowed GPU measures, each step under a
# time limit and all of them inside one budget (MTTT_GPU_REPORT_BUDGET seconds, default 450), so
# that the whole run ends in under 8 minutes with start-up. Called by gpu_report.sh with:
#   OUT BUILD BIN LOGS PEER_SCRIPT NVCC GPU MACHINE_JSON
# BIN empty: the programs are built in BUILD (only the targets this needs). LOGS empty: beside OUT.
set -uo pipefail
out=$1 build=$2 bin=$3 logs=$4 peer_script=$5 nvcc=$6 gpu=$7 machine=$8
logs=${logs:-$(dirname "$out")/gpu_report_logs}
mkdir -p "$logs"
budget=${MTTT_GPU_REPORT_BUDGET:-450}
began=$(date +%s)

if [ -z "$gpu" ]; then
  echo "gpu_report: no NVIDIA GPU visible (nvidia-smi lists none): nothing to run; --dry-run writes an empty report"; exit 77
fi

programs=(tools/cli/mttt tools/bench/bench_mttt tools/bench/bench_foundation tests/test_parity_ops tests/test_parity_training)
optional=(tests/test_parity_kernels tests/test_parity_graph tests/test_parity_step_graph tests/test_parity_device_batches)  # run when present (a bundle may lack them)
if [ -z "$bin" ]; then
  if [ ! -x "$nvcc" ]; then echo "gpu_report: no nvcc to build with (or pass --bin DIR)"; exit 77; fi
  [ -f "$build/build.ninja" ] || PATH="$(dirname "$nvcc"):$PATH" meson setup "$build" --wrap-mode=nodownload \
    -Dcuda=enabled > "$logs/setup.log" 2>&1
  echo "gpu_report: building ${programs[*]} in $build"
  PATH="$(dirname "$nvcc"):$PATH" ninja -C "$build" "${programs[@]}" "${optional[@]}" > "$logs/build.log" 2>&1 ||
    { echo "gpu_report: the build failed, see $logs/build.log"; exit 1; }
fi
declare -A path
for p in "${programs[@]}"; do
  name=$(basename "$p")
  if [ -n "$bin" ]; then path[$name]=$bin/$name; else path[$name]=$build/$p; fi
  [ -x "${path[$name]}" ] || { echo "gpu_report: ${path[$name]} is missing"; exit 1; }
done
for p in "${optional[@]}"; do
  name=$(basename "$p")
  if [ -n "$bin" ]; then path[$name]=$bin/$name; else path[$name]=$build/$p; fi
done

# Runs one step under min(its own limit, what is left of the budget); records its status and time.
declare -A status seconds
step() {
  local name=$1 limit=$2; shift 2
  local left=$(( budget - ($(date +%s) - began) ))
  [ "$left" -lt "$limit" ] && limit=$left
  if [ "$limit" -le 5 ]; then
    echo "gpu_report: [$name] skipped, the budget is spent"; status[$name]=skipped; seconds[$name]=0; return
  fi
  echo "gpu_report: [$name] up to ${limit}s (elapsed $(( $(date +%s) - began ))s of ${budget}s)"
  local start=$(date +%s)
  timeout --signal=TERM --kill-after=10 "$limit" "$@" > "$logs/$name.log" 2>&1
  local rc=$?
  seconds[$name]=$(( $(date +%s) - start ))
  case $rc in
    0) status[$name]=ok ;;
    124|137) status[$name]=timeout ;;
    *) status[$name]="failed ($rc)" ;;
  esac
  echo "gpu_report: [$name] ${status[$name]} in ${seconds[$name]}s"
}

export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
step parity_ops 60 env MTTT_PARITY_DEVICE=cuda "${path[test_parity_ops]}"
if [ -x "${path[test_parity_kernels]}" ]; then
  step parity_kernels 60 env MTTT_PARITY_DEVICE=cuda "${path[test_parity_kernels]}"
else
  echo "gpu_report: [parity_kernels] skipped: no test_parity_kernels among the programs"; status[parity_kernels]=skipped; seconds[parity_kernels]=0
fi
# Graphs (tensor/graph.hpp): captured work and captured training steps equal eager ones on the GPU;
# batches copied one step ahead on a copy stream (nn/data/device_batches.hpp).
for t in parity_graph parity_step_graph parity_device_batches; do
  if [ -x "${path[test_$t]}" ]; then
    step "$t" 60 env MTTT_PARITY_DEVICE=cuda "${path[test_$t]}"
  else
    echo "gpu_report: [$t] skipped: no test_$t among the programs"; status[$t]=skipped; seconds[$t]=0
  fi
done
step verify 60 "${path[mttt]}" verify --batch 8 --tokens 196 --width 192 --heads 3 --device cuda \
  --json "$logs/verify.json"
step parity_training 90 env MTTT_PARITY_DEVICE=cuda "${path[test_parity_training]}"
step bench 150 "${path[bench_mttt]}" --device cuda --sections layers,layers_s16,vit --repeats 10 --warmup 2 \
  --json "$logs/bench_mttt.json"
step bench_graphs 60 "${path[bench_mttt]}" --device cuda --sections vit --cuda-graphs --repeats 10 --warmup 2 \
  --json "$logs/bench_mttt_graphs.json"
step reduce 40 "${path[bench_foundation]}" --sections reduce --device cuda --repeats 10 --json "$logs/bench_reduce.json"
step profile 40 env MTTT_PROFILE=1 "${path[bench_mttt]}" --device cuda --sections layers \
  --layers linear_attention,mttt_mlp_t1 --repeats 3 --json "$logs/bench_profile.json"
step train 90 "${path[mttt]}" train --config examples/configs/fashion_mnist_demo.json --device cuda \
  --set run.epochs=1 --set run.out="$logs/train"
if [ -f "$peer_script" ] && python3 -c 'import torch; assert torch.cuda.is_available()' 2>/dev/null; then
  step peer 120 python3 "$peer_script"
else
  echo "gpu_report: [peer] skipped: no $peer_script or no torch with CUDA"; status[peer]=skipped; seconds[peer]=0
fi

steps_json=$(for k in "${!status[@]}"; do printf '%s\t%s\t%s\n' "$k" "${status[$k]}" "${seconds[$k]}"; done |
  python3 -c 'import json,sys
print(json.dumps({k: {"status": s, "seconds": int(t)} for k, s, t in (l.rstrip("\n").split("\t") for l in sys.stdin)}))')

python3 "$(dirname "$0")/gpu_report_summary.py" "$out" "$logs" "$machine" "$steps_json" "$(( $(date +%s) - began ))"
