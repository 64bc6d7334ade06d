#!/usr/bin/env bash
# The communicator tests on 2 ranks under mpirun, then the faults: a rank that raises and a rank
# that is killed end the whole job within seconds, with the failing rank named.
#   run_mpi.sh MPIRUN TEST_PROGRAM FAULT_PROGRAM
set -uo pipefail
mpirun=$1 program=$2 fault=$3
# CI runs as root; Open MPI refuses root unless told twice.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export MTTT_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
launch=("$mpirun" -np 2 --oversubscribe --mca btl self,vader --mca btl_vader_single_copy_mechanism none)

MTTT_TEST_RANKS=2 timeout 120 "${launch[@]}" -x MTTT_TEST_RANKS "$program" || { echo "FAILED: the communicator tests on 2 ranks"; exit 1; }

for mode in raise kill; do
  start=$(date +%s)
  timeout 60 "${launch[@]}" "$fault" "$mode" > "$logs/fault_$mode.log" 2>&1
  status=$?
  took=$(( $(date +%s) - start ))
  cat "$logs/fault_$mode.log"
  [ $status -ne 0 ] || { echo "FAILED: a $mode on rank 1 ended with exit 0"; exit 1; }
  [ $status -ne 124 ] || { echo "FAILED: a $mode on rank 1 hung the job (killed after 60 s)"; exit 1; }
  [ $took -le 30 ] || { echo "FAILED: a $mode on rank 1 took ${took}s to end the job"; exit 1; }
  if grep -q "the collective returned without rank 1" "$logs/fault_$mode.log"; then echo "FAILED: a collective completed without rank 1"; exit 1; fi
  case $mode in
    raise) grep -q "\[rank 1 of 2\] \[train\] step 3: the loss is not finite" "$logs/fault_$mode.log" ||
             { echo "FAILED: the raising rank's message is missing"; exit 1; } ;;
    kill) grep -qiE "rank 1|signal 9|killed" "$logs/fault_$mode.log" || { echo "FAILED: mpirun did not name the killed rank"; exit 1; } ;;
  esac
  echo "a $mode on rank 1 ended the job in ${took}s with exit $status"
done
