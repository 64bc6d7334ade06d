#!/bin/bash
# The library as others use it (docs/custom-layer.md): installs the build into a temporary folder,
# checks that every public header is installed and includes only installed headers, then builds
# examples/custom_layer/custom_layer.cpp and examples/bilevel/bilevel.cpp against the installed
# package alone (pkg-config's flags from the installed mttt.pc, the sources copied out of the
# tree) and trains the custom layer for a few steps. Exit 77 (skip) without pkg-config.
#
# Usage: test_install.sh SOURCE_ROOT BUILD_ROOT PREFIX LIBDIR
set -euo pipefail
source_root=$1 build_root=$2 prefix=$3 libdir=$4

command -v pkg-config >/dev/null || { echo "pkg-config is missing: skipping"; exit 77; }
cxx=${CXX:-c++}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mttt_install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
stage=$tmp/stage
meson install -C "$build_root" --no-rebuild --quiet --destdir "$stage" >"$tmp/install.log" 2>&1 ||
  { cat "$tmp/install.log"; echo "meson install failed"; exit 1; }
root=$stage$prefix
case $libdir in /*) lib=$stage$libdir ;; *) lib=$root/$libdir ;; esac
include=$root/include/mttt

# Every header of the four layers but the devices' kernels (tensor/backend/<device>/).
cd "$source_root"
expected=$(find autodiff tensor nn mttt -name '*.hpp' -not -path 'tensor/backend/*/*' | sort)
installed=$(cd "$include" && find autodiff tensor nn mttt -name '*.hpp' | sort)
if [ "$expected" != "$installed" ]; then
  echo "installed headers differ from the sources' public headers (< source, > installed):"
  diff <(echo "$expected") <(echo "$installed") || true
  exit 1
fi
# ... and each includes only installed headers of the project.
missing=0
while read -r header; do
  while read -r target; do
    if [ ! -f "$include/$target" ]; then echo "$header includes $target, which is not installed"; missing=1; fi
  done < <(sed -n 's/^#include "\(\(autodiff\|tensor\|nn\|mttt\)\/[^"]*\)".*/\1/p' "$include/$header")
done <<<"$installed"
[ $missing = 0 ] || exit 1
for library in mttt mttt_nn mttt_tensor mttt_autodiff; do
  [ -e "$lib/lib$library.so" ] || { echo "lib$library.so is not installed in $lib"; exit 1; }
done
echo "$(echo "$installed" | wc -l) headers and 4 libraries installed"

# Build with nothing but the installed package: pkg-config reads the staged mttt.pc, its prefix
# moved to the stage (as a relocated install would be); the sources are copied out of the tree,
# so that no include can resolve into it.
mkdir "$tmp/pkgconfig"
sed "s|^prefix=.*|prefix=$root|" "$lib/pkgconfig/mttt.pc" >"$tmp/pkgconfig/mttt.pc"
export PKG_CONFIG_PATH=$tmp/pkgconfig
flags=$(pkg-config --cflags --libs mttt)
case $flags in *"$source_root"*) echo "pkg-config's flags name the source tree: $flags"; exit 1 ;; esac
echo "pkg-config --cflags --libs mttt: $flags"
cp examples/custom_layer/custom_layer.cpp examples/bilevel/bilevel.cpp "$tmp/"
cd "$tmp"
# shellcheck disable=SC2086
"$cxx" -std=c++20 -O1 custom_layer.cpp $flags -Wl,-rpath,"$lib" -o custom_layer
# shellcheck disable=SC2086
"$cxx" -std=c++20 -O1 bilevel.cpp $flags -Wl,-rpath,"$lib" -o bilevel
# The programs load the staged libraries, not the build tree's.
if ldd ./custom_layer | grep -q "$build_root"; then
  ldd ./custom_layer
  echo "custom_layer loads a library from the build tree"
  exit 1
fi

./custom_layer "$tmp/run" 30
