#!/usr/bin/env bash
# `mttt train/eval --device`: a run on thrust-host (the CUDA backend's code on the CPU) writes a
# checkpoint that `mttt eval` scores on both devices alike; unknown devices, and devices this
# build lacks, are refused with what to do.
# Usage (from Meson): test_device_cli.sh MTTT_PROGRAM
set -euo pipefail
mttt=$(realpath "$1")
if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] && [ -z "${MTTT_FASHION_MNIST:-}" ]; then
  echo "Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist): skipped"; exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
cat > tiny.json <<'JSON'
{"model": {"variant": "custom", "width": 16, "depth": 1, "heads": 2, "mlp_dim": 32, "patch": 7, "image": 28,
           "channels": 1, "classes": 10, "layer": {"kind": "mttt_mlp", "steps": 2, "sgd": true}},
 "data": {"dataset": "fashion_mnist", "train_subset": 64, "test_subset": 64},
 "optim": {"optimizer": "adam", "lr": 0.003, "weight_decay": 0},
 "run": {"seed": 0, "epochs": 1, "batch_size": 32, "eval_batch_size": 64, "log_every": 1, "out": "run"}}
JSON
"$mttt" train --config tiny.json --device thrust-host --threads 1 > train.txt
grep -q "on thrust-host, 1 thread;" train.txt || { echo "the run does not say its device and threads:"; cat train.txt; exit 1; }
"$mttt" eval --checkpoint run/checkpoint.safetensors --device thrust-host > eval_device.txt
"$mttt" eval --checkpoint run/checkpoint.safetensors --device cpu > eval_cpu.txt
# The same accuracy on both devices (the loss may differ in its last digits).
[ "$(grep -o 'accuracy [0-9.]*%' eval_device.txt)" = "$(grep -o 'accuracy [0-9.]*%' eval_cpu.txt)" ] ||
  { echo "accuracies differ:"; cat eval_device.txt eval_cpu.txt; exit 1; }

if "$mttt" train --config tiny.json --device gpu 2> unknown.txt; then echo "--device gpu was accepted"; exit 1; fi
grep -q "unknown device 'gpu': expected cpu, thrust-host, cuda or cuda:N" unknown.txt
if ! nvidia-smi -L > /dev/null 2>&1; then
  if "$mttt" train --config tiny.json --device cuda 2> cuda.txt; then echo "--device cuda ran without a GPU"; exit 1; fi
  grep -q "\[device\] this build has no CUDA backend\|\[cuda\]" cuda.txt || { echo "unclear error:"; cat cuda.txt; exit 1; }
fi
echo "device CLI: thrust-host trains and evaluates; bad devices are refused"
