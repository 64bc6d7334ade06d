#!/usr/bin/env bash
# `mttt plot` draws a metrics file's loss, accuracy and inner-loss curves as PNG files, a
# damaged metrics file is an error naming the line, and a truncated last line is skipped.
# Usage (from Meson): test_plot.sh MTTT_PROGRAM
set -euo pipefail
mttt=$(realpath "$1")
python=/usr/bin/python3
[ -x "$python" ] || python=python3
"$python" -c "import matplotlib" 2>/dev/null || { echo "python3-matplotlib is missing: skipped"; exit 77; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
{
  for step in 1 2 3 4; do
    echo "{\"kind\":\"train\",\"step\":$step,\"epoch\":$(( step / 2 )),\"loss\":$(( 5 - step )).5,\"lr\":0.001,\"grad_norm\":1.0}"
    if [ $(( step % 2 )) -eq 0 ]; then
      echo "{\"kind\":\"eval\",\"step\":$step,\"epoch\":$(( step / 2 )),\"loss\":2.$step,\"accuracy\":0.$(( 3 + step )),\"examples\":100,\"inner_losses\":{\"blocks.0.layer\":[3.0,2.0,1.$step],\"blocks.1.layer\":[2.5,1.5,1.0]}}"
    fi
  done
} > metrics.jsonl
"$mttt" plot metrics.jsonl --out figures --title "a test"
for png in loss accuracy inner_loss; do
  [ -s "figures/$png.png" ] || { echo "figures/$png.png was not written"; exit 1; }
  head -c 8 "figures/$png.png" | grep -q PNG || { echo "figures/$png.png is not a PNG file"; exit 1; }
done

echo '{"kind": "train", "step": 1' > broken.jsonl
if "$mttt" plot broken.jsonl --out broken 2> error.txt; then echo "a damaged metrics file was accepted"; exit 1; fi
grep -q "broken.jsonl:1" error.txt || { echo "the error does not name the line:"; cat error.txt; exit 1; }
# A last line cut short (a writer killed mid-record) is skipped, named, and the rest is drawn.
{ cat metrics.jsonl; printf '{"kind":"train","st'; } > truncated.jsonl
"$mttt" plot truncated.jsonl --out truncated 2> warning.txt
grep -q "truncated.jsonl:7" warning.txt || { echo "the truncated line is not named:"; cat warning.txt; exit 1; }
[ -s truncated/loss.png ] || { echo "truncated/loss.png was not written"; exit 1; }
echo "plot: figures written; damaged input refused; a truncated last line skipped"
