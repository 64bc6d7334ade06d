#!/usr/bin/env bash
# The experiment driver end to end on a tiny grid: a run interrupted by run.max_steps is resumed
# from its checkpoint, a finished run is skipped, and the table and figures are rebuilt.
# Usage (from Meson): test_sweep.sh SOURCE_ROOT MTTT_PROGRAM
set -euo pipefail
root=$1
mttt=$(realpath "$2")
python=/usr/bin/python3
[ -x "$python" ] || python=python3
if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] && [ -z "${MTTT_FASHION_MNIST:-}" ]; then
  echo "Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist): skipped"; exit 77
fi
"$python" -c "import matplotlib" 2>/dev/null || { echo "python3-matplotlib is missing: skipped"; exit 77; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
for layer in linear_attention mttt_mlp; do
  cat > "$layer.json" <<JSON
// a tiny run of the sweep test
{"model": {"variant": "custom", "width": 16, "depth": 1, "heads": 2, "mlp_dim": 32, "patch": 7, "image": 28,
           "channels": 1, "classes": 10, "layer": "$layer", "posemb": "sincos"},
 "data": {"dataset": "fashion_mnist", "train_subset": 256, "test_subset": 250},
 "optim": {"optimizer": "adam", "lr": 0.001, "weight_decay": 0},
 "run": {"seed": 0, "epochs": 2, "batch_size": 64, "eval_batch_size": 250, "log_every": 2, "out": "runs/$layer"}}
JSON
done
cat > grid.json <<'JSON'
{"results": "results",
 "runs": [
  {"name": "la", "config": "linear_attention.json", "setting": "patches", "layer": "linear attention", "seed": 0},
  {"name": "mlp", "config": "mttt_mlp.json", "setting": "patches", "layer": "MTTT-MLP T=1", "seed": 0, "steps": 1}]}
JSON

# Interrupt one run after 5 of its 8 steps (one epoch evaluated, a checkpoint written).
"$mttt" train --config mttt_mlp.json --set run.max_steps=5 > /dev/null
"$python" "$root/tools/sweep.py" status --grid grid.json | tee status.txt
grep -q "^mlp .*resumable (epoch 1 of 2)" status.txt
grep -q "^la .*not started" status.txt

"$python" "$root/tools/sweep.py" run --grid grid.json --mttt "$mttt" | tee run.txt
grep -q "la: starting" run.txt
grep -q "mlp: resuming: .*--resume runs/mttt_mlp/checkpoint.safetensors" run.txt
# The resumed run went on from step 5, not from the start: one evaluation per epoch.
[ "$(grep -c '"kind":"eval"' runs/mttt_mlp/metrics.jsonl)" -eq 2 ]

"$python" "$root/tools/sweep.py" run --grid grid.json --mttt "$mttt" | tee again.txt
[ "$(grep -c 'done, skipped' again.txt)" -eq 2 ]

# Finished runs are archived: without their run folders they stay done and still report.
[ -s results/la.metrics.jsonl ] && [ -s results/mlp.metrics.jsonl ]
"$python" -c 'import json,sys; assert json.load(open(sys.argv[1]))["threads"] >= 1' results/la.run.json
rm -rf runs
"$python" "$root/tools/sweep.py" status --grid grid.json | tee archived.txt
[ "$(grep -c ' done ' archived.txt)" -eq 2 ]

"$python" "$root/tools/sweep.py" report --grid grid.json --mttt "$mttt" --table table.md --figures figures > /dev/null
grep -q "| patches | MTTT-MLP T=1 | 0 | [0-9.]*% | " table.md
grep -q "mttt train --config mttt_mlp.json" table.md
[ -s figures/accuracy_vs_steps.png ] && [ -s figures/inner_loss_mlp.png ]
echo "sweep: resume, skip, archive, table and figures work"
