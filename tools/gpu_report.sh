#!/usr/bin/env bash
# For a person with an NVIDIA GPU: builds mttt with the CUDA backend, runs the test suite, runs
# the parity suite on the GPU (every op family against the CPU backend, first and second order;
# a ViT with an MTTT-MLP layer trained on the GPU against the same run on the CPU), trains the
# main job's Fashion-MNIST model on the GPU, runs the benchmarks there (GEMM, the MTTT layers, a
# ViT-Tiny training step), and writes one JSON report.
#
#   bash tools/gpu_report.sh [--out gpu_report.json] [--build build-cuda]
#   bash tools/gpu_report.sh --quick [--bin DIR] [--logs DIR] [--out FILE]
#   bash tools/gpu_report.sh --dry-run [--out FILE]   # no GPU needed: a report of this machine, nothing run
#
# --quick fits a scarce GPU session (under 8 minutes on an H200): no build of the whole tree and
# no test suite; the parity programs on the GPU, the layer benchmark at the ViT-Tiny layer's and
# the ViT-S/16 layer's shapes with the device counters, the ViT-Tiny step, one epoch of the
# demo, and the PyTorch peer on the same GPU when torch is there (--peer-script, default
# ../shared/gpu/peer_gpu.py); it writes the report and a Markdown table (mttt next to PyTorch and
# the XLA reference) beside it. --bin DIR takes prebuilt programs (a bundle's bin/ from
# ../shared/gpu/bundle.sh) instead of building them. Every step has a time limit.
#
# Without a GPU (or without nvcc, when it must build) it says so and exits 77. Run from the
# repository root.
set -uo pipefail
cd "$(dirname "$0")/.."

out=gpu_report.json
build=build-cuda
dry_run=0
quick=0
bin=""
logs=""
peer_script=../shared/gpu/peer_gpu.py
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --dry-run) dry_run=1; shift ;;
    --quick) quick=1; shift ;;
    --bin) bin=$2; shift 2 ;;
    --logs) logs=$2; shift 2 ;;
    --peer-script) peer_script=$2; shift 2 ;;
    *) echo "usage: bash tools/gpu_report.sh [--dry-run | --quick [--bin DIR] [--logs DIR] [--peer-script PY]] [--out FILE] [--build DIR]" >&2; exit 2 ;;
  esac
done
[ -n "$bin" ] && [ $quick -eq 0 ] && { echo "gpu_report: --bin goes with --quick" >&2; exit 2; }

nvcc=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
gpu=$(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | head -1)
[ -x "$nvcc" ] && nvcc_version=$("$nvcc" --version | tail -1) || nvcc_version=""

# Sections of the report, each a JSON value; python3 assembles and validates the file.
declare -A section
section[machine]=$(python3 -c 'import json,os,platform,sys; print(json.dumps({"host": platform.node(), "cpus": os.cpu_count(), "gpu": sys.argv[1] or None, "nvcc": sys.argv[2] or None, "commit": sys.argv[3]}))' \
  "$gpu" "$nvcc_version" "$(git rev-parse HEAD 2>/dev/null || echo unknown)")

write_report() {
  python3 - "$out" "$1" "${section[machine]}" "${section[build]:-null}" "${section[tests]:-null}" "${section[parity_gpu]:-null}" "${section[training]:-null}" "${section[benchmarks]:-null}" <<'PY'
import json, sys, datetime
out, mode, machine, build, tests, parity, training, bench = sys.argv[1:9]
report = {"format": "mttt-gpu-report-1", "mode": mode,
          "date_utc": datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"),
          "machine": json.loads(machine), "build": json.loads(build), "tests": json.loads(tests),
          "parity_gpu": json.loads(parity), "training": json.loads(training), "benchmarks": json.loads(bench)}
with open(out, "w") as f:
    json.dump(report, f, indent=2)
print(f"report written to {out}")
PY
}

if [ $dry_run -eq 1 ]; then
  section[build]='{"planned": "meson setup BUILD -Dcuda=enabled && ninja -C BUILD"}'
  section[tests]='{"planned": "meson test -C BUILD"}'
  section[parity_gpu]='{"planned": "MTTT_PARITY_DEVICE=cuda BUILD/tests/test_parity_ops, test_parity_training, test_parity_graph, test_parity_step_graph and test_parity_device_batches"}'
  section[training]='{"planned": "BUILD/tools/cli/mttt train --config examples/configs/fashion_mnist_demo.json --device cuda"}'
  section[benchmarks]='{"planned": "BUILD/tools/bench/bench_foundation --sections gemm,batched --device cuda and bench_mttt --device cuda"}'
  write_report dry-run
  exit 0
fi

if [ $quick -eq 1 ]; then
  exec bash "$(dirname "$0")/gpu_report_quick.sh" "$out" "$build" "$bin" "$logs" "$peer_script" "$nvcc" "$gpu" "${section[machine]}"
fi

if [ ! -x "$nvcc" ]; then
  echo "gpu_report: no nvcc (install the CUDA toolkit, or put it on PATH): nothing to do"; exit 77
fi
if [ -z "$gpu" ]; then
  echo "gpu_report: no NVIDIA GPU visible (nvidia-smi lists none): nothing to run; --dry-run writes an empty report"; exit 77
fi

start=$(date +%s)
if PATH="$(dirname "$nvcc"):$PATH" meson setup "$build" --wrap-mode=nodownload -Dcuda=enabled >/dev/null 2>&1 ||
   [ -f "$build/build.ninja" ]; then :; fi
if ninja -C "$build" > "$build.log" 2>&1; then
  section[build]="{\"ok\": true, \"seconds\": $(( $(date +%s) - start ))}"
else
  section[build]='{"ok": false, "log": "'"$build.log"'"}'
  write_report full
  exit 1
fi

meson test -C "$build" --num-processes 2 > "$build-tests.log" 2>&1
section[tests]=$(python3 -c 'import json,sys
c={"passed":0,"failed":0,"skipped":0}
for l in open(sys.argv[1]):
    r=json.loads(l).get("result","")
    c["passed" if r in ("OK","EXPECTEDFAIL") else "skipped" if r=="SKIP" else "failed"]+=1
print(json.dumps(c))' "$build/meson-logs/testlog.json")

if MTTT_PARITY_DEVICE=cuda "$build/tests/test_parity_ops" > "$build-parity.log" 2>&1 &&
   MTTT_PARITY_DEVICE=cuda "$build/tests/test_parity_training" >> "$build-parity.log" 2>&1 &&
   MTTT_PARITY_DEVICE=cuda "$build/tests/test_parity_graph" >> "$build-parity.log" 2>&1 &&
   MTTT_PARITY_DEVICE=cuda "$build/tests/test_parity_step_graph" >> "$build-parity.log" 2>&1 &&
   MTTT_PARITY_DEVICE=cuda "$build/tests/test_parity_device_batches" >> "$build-parity.log" 2>&1; then
  section[parity_gpu]='{"ok": true}'
else
  section[parity_gpu]='{"ok": false, "log": "'"$build-parity.log"'"}'
fi

# The main job's first training run, on the GPU: its test accuracy per epoch and seconds per epoch.
start=$(date +%s)
if "$build/tools/cli/mttt" train --config examples/configs/fashion_mnist_demo.json --device cuda --overwrite \
     --set run.out="$build-train" > "$build-train.log" 2>&1; then
  section[training]=$(python3 -c 'import json,sys
evals=[json.loads(l) for l in open(sys.argv[1]) if "\"eval\"" in l]
print(json.dumps({"ok": True, "seconds": int(sys.argv[2]), "accuracy": [e["accuracy"] for e in evals],
                  "train_seconds": [e.get("train_seconds") for e in evals]}))' "$build-train/metrics.jsonl" "$(( $(date +%s) - start ))")
else
  section[training]='{"ok": false, "log": "'"$build-train.log"'"}'
fi

OMP_WAIT_POLICY=PASSIVE "$build/tools/bench/bench_foundation" --sections gemm,batched --device cuda \
  --json "$build-foundation.json" > /dev/null 2>&1
OMP_WAIT_POLICY=PASSIVE "$build/tools/bench/bench_mttt" --sections layers,scaling,vit --device cuda \
  --json "$build-mttt.json" > /dev/null 2>&1
# The ViT step replayed from a CUDA graph (run.cuda_graphs), beside the eager one above.
OMP_WAIT_POLICY=PASSIVE "$build/tools/bench/bench_mttt" --sections vit --device cuda --cuda-graphs --warmup 2 \
  --json "$build-mttt-graphs.json" > /dev/null 2>&1
section[benchmarks]=$(python3 -c 'import json,sys
def load(p):
    try: return json.load(open(p))
    except Exception: return None
print(json.dumps({"foundation": load(sys.argv[1]), "mttt": load(sys.argv[2]), "mttt_cuda_graphs": load(sys.argv[3])}))' \
  "$build-foundation.json" "$build-mttt.json" "$build-mttt-graphs.json" 2>/dev/null || echo null)
write_report full
