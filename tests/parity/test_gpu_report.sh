#!/usr/bin/env bash
# tools/gpu_report.sh without a GPU: a clear message and exit 77; --dry-run writes a valid report.
set -euo pipefail
root=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bash "$root/tools/gpu_report.sh" --dry-run --out "$work/report.json"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["format"]=="mttt-gpu-report-1" and d["mode"]=="dry-run" and "machine" in d and "training" in d, d' "$work/report.json"
if nvidia-smi -L > /dev/null 2>&1; then
  echo "a GPU is present: the GPU-less path is not checked here"
else
  set +e
  (cd "$work" && bash "$root/tools/gpu_report.sh" > out.txt 2>&1)
  status=$?
  set -e
  [ $status -eq 77 ] || { echo "expected exit 77 without a GPU, got $status"; cat "$work/out.txt"; exit 1; }
  grep -q "no NVIDIA GPU visible\|no nvcc" "$work/out.txt"
fi
echo "gpu_report: dry run and GPU-less path as expected"

# --quick without a GPU: exit 77 as well; its summary from a logs folder (what a GPU run leaves).
if ! nvidia-smi -L > /dev/null 2>&1; then
  set +e
  (cd "$work" && bash "$root/tools/gpu_report.sh" --quick --out "$work/quick.json" > quick.txt 2>&1)
  status=$?
  set -e
  [ $status -eq 77 ] || { echo "expected exit 77 from --quick without a GPU, got $status"; cat "$work/quick.txt"; exit 1; }
fi
mkdir -p "$work/logs/train"
cat > "$work/logs/bench_mttt.json" <<'JSON'
{"layers": {"rows": [{"name": "linear_attention", "times": {"step": {"median_s": 0.004}},
                      "train_step_counts": {"kernel_launches": 120, "host_syncs": 0}},
                     {"name": "mttt_mlp_t1", "times": {"step": {"median_s": 0.010}}}]}}
JSON
cat > "$work/logs/bench_mttt_graphs.json" <<'JSON'
{"vit": {"rows": [{"name": "linear_attention", "times": {"step": {"median_s": 0.003}},
                   "step_counts": {"kernel_launches": 1, "host_syncs": 1}}], "cuda_graphs": true}}
JSON
cat > "$work/logs/bench_reduce.json" <<'JSON'
{"reduce": {"rows": [{"case": "full sum, 16M", "warm_gb_per_s": 3500.4, "cold_gb_per_s": 2900.0}]}}
JSON
printf '%s\n' 'not json' '{"section": "layers", "name": "linear_attn", "step_ms": 2.0}' > "$work/logs/peer.log"
printf '%s\n' '{"kind": "eval", "accuracy": 0.75, "train_seconds": 4.0}' > "$work/logs/train/metrics.jsonl"
python3 "$root/tools/gpu_report_summary.py" "$work/quick.json" "$work/logs" '{"gpu": "test"}' \
  '{"bench": {"status": "ok", "seconds": 3}}' 42 > "$work/summary.txt"
grep -q '| linear_attention | 4.00 | 2.00 | 0.45 | 2.00x | 120 | 0 |' "$work/quick.md" || { cat "$work/quick.md"; exit 1; }
grep -q '| mttt_mlp_t1 | 10.00 | - | 1.12 | - | - | - |' "$work/quick.md" || { cat "$work/quick.md"; exit 1; }
grep -q '| linear_attention (CUDA graph) | 3.00 | - | - | - | 1 | 1 |' "$work/quick.md" || { cat "$work/quick.md"; exit 1; }
grep -q '2500 images/s' "$work/quick.md"
grep -q '| full sum, 16M | 3500 | 2900 |' "$work/quick.md" || { cat "$work/quick.md"; exit 1; }
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["mode"]=="quick" and d["elapsed_seconds"]==42 and d["training"]["accuracy"]==0.75, d' "$work/quick.json"
echo "gpu_report --quick: GPU-less path and summary as expected"
