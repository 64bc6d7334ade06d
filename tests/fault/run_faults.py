#!/usr/bin/env python3
"""Fault tests of `mttt train` (docs/reliability.md): kill -9 at random moments and inside
checkpoint writes, signals, a full disk and a failed rename (the LD_PRELOAD shim
fault_inject.cpp), two trainings on one folder, a diverging run, and a run started over a previous
one. Each asserts that nothing is lost: the checkpoint loads, the resumed run logs the same losses
as an uninterrupted one, each step once, and metrics.jsonl holds whole lines only.

Usage (from Meson): run_faults.py MTTT_PROGRAM FAULT_SHIM [--kills N] [--seed S] [--preload-first LIBS]
(--preload-first: libraries preloaded before the shim, AddressSanitizer's runtime in a sanitizer build.)
Skips (exit 77) without Debian's dataset-fashion-mnist."""
import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

FASHION_MNIST = os.environ.get("MTTT_FASHION_MNIST", "/usr/share/datasets/fashion-mnist")

CONFIG = {
    "model": {"variant": "custom", "width": 16, "depth": 1, "heads": 2, "mlp_dim": 32, "patch": 7, "image": 28,
              "channels": 1, "classes": 10, "layer": "self_attention"},
    "data": {"dataset": "fashion_mnist", "train_subset": 400, "test_subset": 100},
    "optim": {"optimizer": "adam", "lr": 0.003, "schedule": "constant", "weight_decay": 0},
    "run": {"seed": 0, "epochs": 4, "batch_size": 20, "eval_batch_size": 100, "log_every": 1},
}
STEPS = 4 * 400 // 20


class Failure(Exception):
    pass


def expect(condition, message):
    if not condition:
        raise Failure(message)


class Harness:
    def __init__(self, mttt, shim, work, preload_first=None):
        self.mttt, self.work = mttt, work
        self.preload = " ".join(filter(None, [preload_first, shim]))
        self.config = os.path.join(work, "config.json")
        with open(self.config, "w") as f:
            json.dump(CONFIG, f)

    def command(self, out, *extra):
        return [self.mttt, "train", "--config", self.config, "--set", f'run.out="{out}"', *extra]

    def env(self, fault=None):
        env = dict(os.environ)
        env.setdefault("MTTT_NUM_THREADS", "2")
        if fault:
            env["LD_PRELOAD"] = self.preload
            env.update({f"MTTT_FAULT_{k.upper()}": str(v) for k, v in fault.items()})
        return env

    def run(self, out, *extra, fault=None):
        return subprocess.run(self.command(out, *extra), env=self.env(fault), capture_output=True, text=True)

    def start(self, out, *extra, fault=None):
        return subprocess.Popen(self.command(out, *extra), env=self.env(fault), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def resume_or_start(self, out, fault=None):
        checkpoint = os.path.join(out, "checkpoint.safetensors")
        return self.run(out, *(["--resume", checkpoint] if os.path.exists(checkpoint) else ["--overwrite"]), fault=fault)


def records(out):
    """Every record of metrics.jsonl; every line must be whole JSON."""
    path = os.path.join(out, "metrics.jsonl")
    result = []
    with open(path) as f:
        text = f.read()
    expect(text == "" or text.endswith("\n"), f"{path} ends inside a line")
    for number, line in enumerate(text.splitlines(), 1):
        try:
            result.append(json.loads(line))
        except json.JSONDecodeError as e:
            raise Failure(f"{path}:{number}: not whole JSON ({e}): {line!r}")
    return result


def losses(out):
    return [(r["step"], r["loss"]) for r in records(out) if r["kind"] == "train"]


def evals(out):
    return [(r["step"], r["loss"], r["accuracy"]) for r in records(out) if r["kind"] == "eval"]


def checkpoint_step(out):
    """The checkpoint's step, read from its safetensors header (it must parse whole)."""
    path = os.path.join(out, "checkpoint.safetensors")
    with open(path, "rb") as f:
        data = f.read()
    length = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + length])
    end = max(v["data_offsets"][1] for k, v in header.items() if k != "__metadata__")
    expect(len(data) == 8 + length + end, f"{path}: {len(data)} bytes, the header needs {8 + length + end}")
    return int(header["__metadata__"]["step"])


def temporaries(out):
    return [n for n in os.listdir(out) if ".tmp." in n]


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def finish(h, out, reference):
    """Resumes `out` to the end and checks it against the uninterrupted run."""
    r = h.resume_or_start(out)
    expect(r.returncode == 0, f"resuming {out} failed ({r.returncode}):\n{r.stderr}")
    expect(checkpoint_step(out) == STEPS, f"{out}: the final checkpoint is not at step {STEPS}")
    expect(losses(out) == losses(reference), f"{out}: the resumed losses differ from the uninterrupted run's")
    expect(evals(out) == evals(reference), f"{out}: the evaluations differ from the uninterrupted run's")
    expect(temporaries(out) == [], f"{out}: temporaries left: {temporaries(out)}")


def wait_for_step(out, step, process, timeout=120):
    path = os.path.join(out, "metrics.jsonl")
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise Failure(f"the run ended before step {step}: {process.communicate()[1]}")
        try:
            if any(r.get("kind") == "train" and r["step"] >= step for r in records_lenient(path)):
                return
        except FileNotFoundError:
            pass
        time.sleep(0.01)
    raise Failure(f"no step {step} within {timeout} s")


def records_lenient(path):
    with open(path) as f:
        for line in f:
            if line.endswith("\n"):
                yield json.loads(line)


def test_kill_at_random_points(h, reference, kills, rng):
    out = os.path.join(h.work, "killed")
    start = time.time()
    h.run(reference + "_timing", "--overwrite")
    duration = time.time() - start
    for i in range(kills):
        checkpoint = os.path.join(out, "checkpoint.safetensors")
        args = ["--resume", checkpoint] if os.path.exists(checkpoint) else ["--overwrite"]
        p = h.start(out, *args)
        time.sleep(rng.uniform(0.05, duration))
        p.kill()
        p.communicate()
        if os.path.exists(checkpoint):
            checkpoint_step(out)  # whole and readable after every kill
    finish(h, out, reference)
    return f"{kills} kill -9 at random moments"


def test_kill_inside_checkpoint_writes(h, reference, rng):
    out = os.path.join(h.work, "killed_in_write")
    r = h.run(out, "--set", "run.max_steps=20")
    expect(r.returncode == 0, r.stderr)
    for _ in range(3):
        before = read_bytes(os.path.join(out, "checkpoint.safetensors"))
        offset = rng.randrange(1, len(before))
        r = h.resume_or_start(out, fault={"path": "checkpoint.safetensors.tmp.", "action": "kill", "after": offset})
        expect(r.returncode == -signal.SIGKILL, f"expected a kill inside the checkpoint write, got {r.returncode}")
        expect(read_bytes(os.path.join(out, "checkpoint.safetensors")) == before, "a killed write changed the checkpoint")
        expect(temporaries(out) != [], "the killed write left no temporary (was it killed inside the write?)")
    finish(h, out, reference)
    return "3 kills inside checkpoint writes (old checkpoint kept, temporaries removed on resume)"


def test_signals(h, reference):
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        out = os.path.join(h.work, f"signal_{sig.name}")
        p = h.start(out)
        wait_for_step(out, 5, p)
        p.send_signal(sig)
        _, err = p.communicate()
        expect(p.returncode == 128 + sig, f"{sig.name}: exit {p.returncode}, expected {128 + sig}:\n{err}")
        expect(f"{sig.name} at step" in err, f"{sig.name}: no message naming the step:\n{err}")
        step = checkpoint_step(out)
        expect(step >= 5 and max(s for s, _ in losses(out)) == step, f"{sig.name}: checkpoint at {step}")
        finish(h, out, reference)
    # A second signal ends the process at once, even inside the stop's checkpoint write (stalled
    # for 20 s by the shim: two signals sent back to back would merge into one).
    out = os.path.join(h.work, "signal_twice")
    p = h.start(out, fault={"path": "checkpoint.safetensors.tmp.", "action": "stall", "after": 20000})
    wait_for_step(out, 3, p)
    p.send_signal(signal.SIGINT)
    deadline = time.time() + 60
    while not temporaries(out) and time.time() < deadline and p.poll() is None:
        time.sleep(0.01)
    expect(temporaries(out) != [], "the stop did not start a checkpoint write")
    start = time.time()
    p.send_signal(signal.SIGINT)
    p.communicate()
    expect(p.returncode == -signal.SIGINT, f"two SIGINTs: exit {p.returncode}, expected death by SIGINT")
    expect(time.time() - start < 10, "the second SIGINT did not end the process at once")
    return "SIGINT, SIGTERM, SIGHUP stop with a checkpoint at a step boundary; a second signal exits"


def test_full_disk(h, reference):
    out = os.path.join(h.work, "full_disk")
    r = h.run(out, "--set", "run.max_steps=20")
    expect(r.returncode == 0, r.stderr)
    size = os.path.getsize(os.path.join(out, "metrics.jsonl"))
    # metrics.jsonl fills up a few records on.
    r = h.resume_or_start(out, fault={"path": "metrics.jsonl", "action": "enospc", "after": 500})
    expect(r.returncode == 1, f"a full disk (metrics) exited {r.returncode}")
    expect("metrics.jsonl" in r.stderr and "No space left on device" in r.stderr, f"unclear error:\n{r.stderr}")
    expect(os.path.getsize(os.path.join(out, "metrics.jsonl")) > size, "the fault came before any record")
    records(out)  # whole lines only
    # The checkpoint write fails: the old checkpoint stays, no temporary is left.
    before = read_bytes(os.path.join(out, "checkpoint.safetensors"))
    for fault, message in (({"action": "enospc", "after": 3000}, "No space left on device"),
                           ({"action": "rename"}, "cannot move")):
        r = h.resume_or_start(out, fault={"path": "checkpoint.safetensors.tmp.", **fault})
        expect(r.returncode == 1, f"a failed checkpoint write ({fault['action']}) exited {r.returncode}")
        expect("checkpoint.safetensors" in r.stderr and message in r.stderr, f"unclear error:\n{r.stderr}")
        expect(read_bytes(os.path.join(out, "checkpoint.safetensors")) == before, "the old checkpoint changed")
        expect(temporaries(out) == [], f"temporaries left: {temporaries(out)}")
    finish(h, out, reference)
    return "full disk on metrics and checkpoint, failed rename: clear errors, nothing half-written"


def test_two_runs(h, reference):
    out = os.path.join(h.work, "two_runs")
    first = h.start(out, "--set", "run.epochs=1000")  # busy until stopped
    wait_for_step(out, STEPS // 4 + 1, first)  # past the first checkpoint
    r = h.run(out, "--overwrite")
    expect(r.returncode == 1 and f"pid {first.pid}" in r.stderr, f"the second run was not refused naming the first:\n{r.stderr}")
    r = h.run(out, "--resume", os.path.join(out, "checkpoint.safetensors"))
    expect(r.returncode == 1 and "in use" in r.stderr, f"a resume into a busy folder was not refused:\n{r.stderr}")
    first.send_signal(signal.SIGTERM)
    _, err = first.communicate()
    expect(first.returncode == 128 + signal.SIGTERM, f"the first run failed ({first.returncode}):\n{err}")
    steps = [s for s, _ in losses(out)]
    expect(steps == list(range(1, len(steps) + 1)), "the first run's records were disturbed")
    expect(checkpoint_step(out) == steps[-1], "the first run's stop checkpoint is not at its last step")
    return "a second run on a busy folder is refused naming the first's pid"


def test_divergence(h, reference):
    out = os.path.join(h.work, "diverged")
    r = h.run(out, "--set", "run.max_steps=20")
    expect(r.returncode == 0, r.stderr)
    before = read_bytes(os.path.join(out, "checkpoint.safetensors"))
    r = h.run(out, "--resume", os.path.join(out, "checkpoint.safetensors"), "--set", "optim.lr=1e20")
    expect(r.returncode == 1, f"a diverging run exited {r.returncode}")
    expect("step" in r.stderr and "(step 20) is kept" in r.stderr, f"unclear error:\n{r.stderr}")
    expect(read_bytes(os.path.join(out, "checkpoint.safetensors")) == before, "the good checkpoint was replaced")
    expect(all(loss is not None for _, loss in losses(out)), "a null loss was logged")
    # With anomaly mode the first operation that made a NaN or Inf is named.
    r = h.run(out, "--resume", os.path.join(out, "checkpoint.safetensors"), "--set", "optim.lr=1e20", "--detect-anomaly")
    expect(r.returncode == 1 and "[anomaly]" in r.stderr and "produced NaN or Inf" in r.stderr,
           f"--detect-anomaly did not name the operation:\n{r.stderr}")
    expect(read_bytes(os.path.join(out, "checkpoint.safetensors")) == before, "the good checkpoint was replaced")
    return "a diverging run stops naming the step (and, with --detect-anomaly, the op); the good checkpoint stays"


def test_previous_run_refused(h, reference):
    before = read_bytes(os.path.join(reference, "metrics.jsonl"))
    r = h.run(reference)
    expect(r.returncode == 1 and "--resume" in r.stderr and "--overwrite" in r.stderr,
           f"starting over a previous run was not refused:\n{r.stderr}")
    expect(read_bytes(os.path.join(reference, "metrics.jsonl")) == before, "the previous run's metrics changed")
    return "a fresh run over a previous one is refused, nothing changed"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mttt")
    parser.add_argument("shim")
    parser.add_argument("--kills", type=int, default=8)
    parser.add_argument("--seed", type=int, default=int(os.environ.get("MTTT_FAULT_SEED", time.time_ns() % 100000)))
    parser.add_argument("--preload-first")
    args = parser.parse_args()
    if not os.path.isdir(FASHION_MNIST):
        print("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist): skipped")
        return 77
    rng = random.Random(args.seed)
    print(f"seed {args.seed} (MTTT_FAULT_SEED={args.seed} repeats this run)")
    work = tempfile.mkdtemp(prefix="mttt_faults_")
    try:
        h = Harness(os.path.realpath(args.mttt), os.path.realpath(args.shim), work, args.preload_first)
        reference = os.path.join(work, "reference")
        r = h.run(reference)
        if r.returncode != 0:
            print(r.stderr)
            return 1
        tests = [lambda: test_previous_run_refused(h, reference), lambda: test_divergence(h, reference),
                 lambda: test_two_runs(h, reference), lambda: test_signals(h, reference),
                 lambda: test_full_disk(h, reference), lambda: test_kill_inside_checkpoint_writes(h, reference, rng),
                 lambda: test_kill_at_random_points(h, reference, args.kills, rng)]
        failed = 0
        for test in tests:
            try:
                print("ok:", test(), flush=True)
            except Failure as e:
                failed += 1
                print("FAILED:", e, flush=True)
        return 1 if failed else 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
