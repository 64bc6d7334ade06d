#!/usr/bin/env bash
# `mttt dryrun` on a small ImageNet-layout folder of 32x32 JPEGs that this test writes: the real
# ViT-S/16 MTTT-Linear config's parameter counts (the spec's), its data-parallel figures on 8 ranks
# and a projection come out, on the device the run used; folders without train/ or val/, and a
# global batch the ranks cannot share, are refused naming what is wrong.
# Usage (from Meson): test_dryrun.sh SOURCE_ROOT MTTT_PROGRAM
set -euo pipefail
root=$1
mttt=$(realpath "$2")
command -v cjpeg > /dev/null || { echo "cjpeg is missing (apt-get install libjpeg-turbo-progs): skipped"; exit 77; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for split in train val; do
  for class in n01440764 n01443537; do
    mkdir -p "$work/imagenet/$split/$class"
    for i in 1 2 3 4; do
      { printf 'P6\n32 32\n255\n'; head -c 3072 /dev/urandom; } | cjpeg -quality 90 > "$work/imagenet/$split/$class/img_$i.JPEG"
    done
  done
done

cd "$root"
"$mttt" dryrun --config examples/imagenet/vit_s16_mttt_linear.json --data "$work/imagenet" --steps 1 --micro-batch 1 --ranks 8 |
  tee "$work/out.txt"
grep -q "ViT-S/16 with mttt_linear (196 tokens): 22,417,384 parameters (22,122,472 trainable, 294,912 frozen)" "$work/out.txt"
grep -q "recipe: batch 1024 (1 micro-batch(es) of 1024), 90 epochs, 1252 steps per epoch" "$work/out.txt"
# 22,122,472 trainable float32 values and a presence flag for each of the 200 trainable tensors.
grep -q "data-parallel: 8 ranks, 128 images per rank and step (1 micro-batch(es) of 128); each step averages 88,490,688 bytes of gradients across the ranks in 26 buckets" "$work/out.txt"
grep -q "^projected on cpu .* per epoch" "$work/out.txt"
grep -q "^projected memory: .* for a micro-batch of 1024" "$work/out.txt"

# A global batch the ranks cannot share is refused, naming the key and both numbers.
if "$mttt" dryrun --config examples/imagenet/vit_s16_mttt_linear.json --data "$work/imagenet" --ranks 3 2> "$work/err.txt"; then
  echo "dryrun accepted a batch of 1024 on 3 ranks"; exit 1
fi
grep -q "run.batch_size 1024 (the global batch) does not divide among 3 ranks" "$work/err.txt"

# The projection names the device it was measured on (where this build has thrust-host).
if "$mttt" dryrun --config examples/imagenet/vit_s16_mttt_linear.json --data "$work/imagenet" --steps 1 \
     --micro-batch 1 --image 32 --device thrust-host > "$work/thrust.txt" 2> "$work/thrust_err.txt"; then
  grep -q "^projected on thrust-host ([0-9]* threads): .* per epoch" "$work/thrust.txt" ||
    { echo "the projection does not name thrust-host:"; cat "$work/thrust.txt"; exit 1; }
else
  grep -q "this build has no thrust-host backend" "$work/thrust_err.txt" || { cat "$work/thrust_err.txt"; exit 1; }
fi

# A folder without train/, or with train/ and no val/, is refused with a message naming what is missing.
mkdir -p "$work/empty" "$work/train_only/train/n01440764"
if "$mttt" dryrun --config examples/imagenet/vit_s16_mttt_linear.json --data "$work/empty" 2> "$work/err.txt"; then
  echo "dryrun accepted a folder without train/"; exit 1
fi
grep -q "expected an ImageNet-layout folder .*there is no train/" "$work/err.txt"
if "$mttt" dryrun --config examples/imagenet/vit_s16_mttt_linear.json --data "$work/train_only" 2> "$work/err.txt"; then
  echo "dryrun accepted a folder without val/"; exit 1
fi
grep -q "expected an ImageNet-layout folder .*there is no val/" "$work/err.txt"
echo "dryrun: counts, projection and errors as expected"
