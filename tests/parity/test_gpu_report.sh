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
