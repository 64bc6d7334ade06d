#!/usr/bin/env bash
# Data-parallel training on 2 ranks under mpirun (docs/distributed.md):
#   1. test_data_parallel: 2 ranks against a process alone (losses, weights, resumption across
#      rank counts, evaluation, refusals), in the MPI communicator's deterministic mode;
#   2. `mttt train` on 2 ranks: rank 1 given another config is refused at start, naming it;
#   3. a rank that raises (test_data_parallel [.raise]) or dies (SIGKILL) mid-training ends the
#      job within seconds naming the rank, and the last checkpoint stays loadable.
#   run_data_parallel.sh MPIRUN TEST_PROGRAM MTTT_PROGRAM
set -uo pipefail
mpirun=$1 program=$2 mttt=$3
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export MTTT_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE MTTT_DETERMINISTIC=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export TMPDIR=$work  # the test program's run folders
launch=("$mpirun" -np 2 --oversubscribe --mca btl self,vader --mca btl_vader_single_copy_mechanism none
        -x MTTT_NUM_THREADS -x MTTT_DETERMINISTIC -x TMPDIR)

timeout 200 "${launch[@]}" "$program"
status=$?
[ $status -eq 77 ] && exit 77
[ $status -eq 0 ] || { echo "FAILED: data-parallel training on 2 ranks against a process alone (exit $status)"; exit 1; }

cat > "$work/tiny.json" <<JSON
{"model": {"variant": "custom", "width": 16, "depth": 1, "heads": 2, "mlp_dim": 32, "patch": 7, "image": 28,
           "channels": 1, "classes": 10, "layer": {"kind": "mttt_mlp", "steps": 4, "sgd": true}},
 "data": {"dataset": "fashion_mnist", "train_subset": 64, "test_subset": 20, "threads": 1},
 "optim": {"optimizer": "adam", "lr": 0.003},
 "run": {"seed": 0, "epochs": 100000, "batch_size": 16, "eval_batch_size": 20, "log_every": 1, "out": "$work/run"}}
JSON

# Ends within 30 s, non-zero, with the log matching $2; $1 names the case.
expect_job_end() {
  local what=$1 pattern=$2 log=$3 status=$4 took=$5
  cat "$log"
  [ "$status" -ne 0 ] || { echo "FAILED: $what ended with exit 0"; exit 1; }
  [ "$status" -ne 124 ] || { echo "FAILED: $what hung the job (killed after 120 s)"; exit 1; }
  [ "$took" -le 30 ] || { echo "FAILED: $what took ${took}s to end the job"; exit 1; }
  grep -qE "$pattern" "$log" || { echo "FAILED: $what: the message does not match '$pattern'"; exit 1; }
  echo "$what: the job ended in ${took}s with exit $status"
}

# 2. Rank 1 given another learning rate.
start=$(date +%s)
timeout 120 "${launch[@]}" bash -c \
  'exec "$0" train --config "$1" $([ "$OMPI_COMM_WORLD_RANK" = 1 ] && echo --set optim.lr=0.1)' \
  "$mttt" "$work/tiny.json" > "$work/refused.log" 2>&1
expect_job_end "a rank given another config" "the ranks disagree on the config.*rank 1 has" "$work/refused.log" $? \
  $(( $(date +%s) - start ))
[ ! -f "$work/run/metrics.jsonl" ] || { echo "FAILED: the refused run wrote metrics"; exit 1; }
rm -rf "$work/run"

# 3a. Rank 1 raises at step 6 (after the checkpoint of step 4).
start=$(date +%s)
timeout 120 "${launch[@]}" "$program" "[.raise]" > "$work/raise.log" 2>&1
expect_job_end "a rank that raises" "\[rank 1 of 2\] mttt: \[test\] step 6: an error on this rank alone" \
  "$work/raise.log" $? $(( $(date +%s) - start ))
checkpoint=$(grep -o 'checkpoint: [^ ]*safetensors' "$work/raise.log" | head -1 | cut -d' ' -f2)
"$mttt" eval --checkpoint "$checkpoint" || { echo "FAILED: the checkpoint of the raise case does not load"; exit 1; }

# 3b. Rank 1 is killed once a checkpoint exists.
timeout 120 "${launch[@]}" bash -c \
  'if [ "$OMPI_COMM_WORLD_RANK" = 1 ]; then
     (while [ ! -f "$2/run/checkpoint.safetensors" ]; do sleep 0.2; done; sleep 1; date +%s > "$2/killed_at"; kill -9 $$) &
   fi
   exec "$0" train --config "$1"' "$mttt" "$work/tiny.json" "$work" > "$work/kill.log" 2>&1
status=$?
took=$(( $(date +%s) - $(cat "$work/killed_at" 2> /dev/null || echo 0) ))
expect_job_end "a rank killed mid-training" "rank 1|signal 9|[Kk]illed" "$work/kill.log" $status $took
"$mttt" eval --checkpoint "$work/run/checkpoint.safetensors" ||
  { echo "FAILED: the checkpoint left by the killed job does not load"; exit 1; }
echo "data-parallel training on 2 ranks: all checks passed"
