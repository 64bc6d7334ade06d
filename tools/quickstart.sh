#!/usr/bin/env bash
# Sets a fresh Debian 12 machine up for mttt and runs one job:
#   bash tools/quickstart.sh main    installs what is missing, builds, runs the main job
#   bash tools/quickstart.sh test    installs what is missing, builds, runs the test suite
# Run from the repository root as root (it calls apt-get). BUILD_DIR overrides `build`.
set -euo pipefail

job=${1:-main}
build=${BUILD_DIR:-build}
cd "$(dirname "$0")/.."

packages=(meson ninja-build pkg-config g++ ccache libeigen3-dev catch2 libfmt-dev libtbb-dev zlib1g-dev
          libturbojpeg0-dev libjpeg-turbo-progs nlohmann-json3-dev libcli11-dev libopenblas-dev
          dataset-fashion-mnist python3-matplotlib libopenmpi-dev openmpi-bin
          pybind11-dev python3-pybind11 libdlpack-dev python3-numpy python3-pytest python3-torch)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=600 "${missing[@]}" >/dev/null
fi

if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" --wrap-mode=nodownload --buildtype=release
fi
ninja -C "$build"

# Two cores: OpenMP threads wait passively so that they do not spin against each other.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
case "$job" in
  main)
    "$build/tools/cli/mttt" demo
    echo
    echo "== The paper's equivalences, checked numerically at a ViT-Tiny layer's size (mttt verify) =="
    "$build/tools/cli/mttt" verify --batch 8 --tokens 196 --width 192 --heads 3
    echo
    echo "== Training a small ViT on Fashion-MNIST (examples/configs/fashion_mnist_demo.json) =="
    "$build/tools/cli/mttt" train --config examples/configs/fashion_mnist_demo.json --overwrite
    echo
    echo "== MTTT-MLP vs linear attention, same ViT, 2x2 patches (196 tokens), two epochs each =="
    for layer in linear_attention mttt_mlp; do
      "$build/tools/cli/mttt" train --config examples/configs/fashion_mnist_compare.json --overwrite \
        --set model.layer=$layer --set run.out=runs/fashion_mnist_compare/$layer
    done
    exec "$build/tools/cli/mttt" compare runs/fashion_mnist_compare/linear_attention runs/fashion_mnist_compare/mttt_mlp ;;
  test) exec meson test -C "$build" --print-errorlogs --num-processes 2 ;;
  *) echo "usage: bash tools/quickstart.sh main|test" >&2; exit 2 ;;
esac
