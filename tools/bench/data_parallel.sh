#!/usr/bin/env bash
# Data-parallel training's cost on one machine (docs/distributed.md, docs/benchmarks.md): the same
# global batch trained by 1 rank of 2 threads and by 2 ranks of 1 thread each, one epoch of STEPS
# steps after the run's start; prints one JSON object:
#   per run: ranks, threads, steps, step_seconds (the epoch's training wall time / steps),
#   and for 2 ranks comm_seconds (per step: rank 0's time starting and waiting for gradient
#   all_reduces, i.e. what the backward sweep did not hide) and reduced_bytes (per step).
# Two cores cannot show a speed-up: both runs share the same two cores.
#   tools/bench/data_parallel.sh [MTTT_PROGRAM] [STEPS] [--set key=value]...
set -euo pipefail
mttt=$(realpath "${1:-build/tools/cli/mttt}")
steps=${2:-20}
shift $(( $# >= 2 ? 2 : $# ))
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
batch=32
cat > "$work/config.json" <<JSON
{"model": {"variant": "custom", "width": 96, "depth": 4, "heads": 3, "mlp_dim": 192, "patch": 7, "image": 28,
           "channels": 1, "classes": 10, "layer": {"kind": "mttt_mlp", "steps": 4, "sgd": true}},
 "data": {"dataset": "fashion_mnist", "train_subset": $(( steps * batch )), "test_subset": $batch, "threads": 1},
 "optim": {"optimizer": "adam", "lr": 0.001},
 "run": {"seed": 0, "epochs": 1, "batch_size": $batch, "eval_batch_size": $batch, "log_every": 1,
         "checkpoint": false, "inner_losses": false}}
JSON
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_WAIT_POLICY=PASSIVE
"$mttt" train --config "$work/config.json" --set "run.out=\"$work/one\"" --threads 2 "$@" > /dev/null
mpirun -np 2 --oversubscribe --mca btl self,vader --mca btl_vader_single_copy_mechanism none \
  "$mttt" train --config "$work/config.json" --set "run.out=\"$work/two\"" --threads 1 "$@" > /dev/null
python3 - "$work" "$steps" <<'PY'
import json, sys
work, steps = sys.argv[1], int(sys.argv[2])
def summary(name, ranks, threads):
    records = [json.loads(line) for line in open(f"{work}/{name}/metrics.jsonl")]
    train = [r for r in records if r["kind"] == "train"]
    evaluation = [r for r in records if r["kind"] == "eval"][0]
    out = {"ranks": ranks, "threads": threads, "steps": steps,
           "step_seconds": evaluation["train_seconds"] / steps}
    if ranks > 1:
        out["comm_seconds"] = sum(r["comm_seconds"] for r in train) / len(train)
        out["reduced_bytes"] = train[0]["reduced_bytes"]
    return out
print(json.dumps({"benchmark": "data_parallel", "runs": [summary("one", 1, 2), summary("two", 2, 1)]}, indent=1))
PY
