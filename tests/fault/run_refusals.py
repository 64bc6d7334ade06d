#!/usr/bin/env python3
"""Bad input to the `mttt` program is refused with a message that names what is wrong, never a
crash or a silent bend (docs/reliability.md): environment switches, --threads, count options,
configs that are not objects, all-frozen models, --perm that is not a permutation, a crafted
shape whose size overflows; and model.dtype = float64 trains.

Usage (from Meson): run_refusals.py MTTT_PROGRAM. Skips (exit 77) without dataset-fashion-mnist."""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

FASHION_MNIST = os.environ.get("MTTT_FASHION_MNIST", "/usr/share/datasets/fashion-mnist")
CONFIG = {
    "model": {"variant": "custom", "width": 16, "depth": 1, "heads": 2, "mlp_dim": 32, "patch": 7, "image": 28,
              "channels": 1, "classes": 10, "layer": "self_attention"},
    "data": {"dataset": "fashion_mnist", "train_subset": 100, "test_subset": 100},
    "optim": {"optimizer": "adam", "lr": 0.003, "schedule": "constant", "weight_decay": 0},
    "run": {"seed": 0, "epochs": 1, "batch_size": 20, "eval_batch_size": 100, "log_every": 1},
}
failures = []


def mttt(*args, env=None):
    full = dict(os.environ)
    full.setdefault("MTTT_NUM_THREADS", "2")
    full.update(env or {})
    return subprocess.run([MTTT, *args], env=full, capture_output=True, text=True, timeout=300)


def refused(what, result, *needles):
    """A refusal: exit 1 (or CLI11's parse error), a message with every needle, no crash."""
    text = result.stdout + result.stderr
    if result.returncode <= 0 or result.returncode >= 128 or not all(n in text for n in needles):
        failures.append(f"{what}: exit {result.returncode}, expected a refusal naming {needles}:\n{text[-800:]}")
    else:
        print(f"ok: {what}: {text.strip().splitlines()[-1] if 'Run with' not in text else text.strip().splitlines()[0]}")


def accepted(what, result):
    if result.returncode != 0:
        failures.append(f"{what}: exit {result.returncode}:\n{(result.stdout + result.stderr)[-800:]}")
    else:
        print(f"ok: {what}")


def safetensors(path, tensors):
    """tensors: name -> (dtype, shape, bytes)."""
    header, data = {}, b""
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)


def f32(n, value=0.1):
    return struct.pack(f"<{n}f", *([value] * n))


def main():
    work = tempfile.mkdtemp(prefix="mttt_refusals_")
    try:
        config = os.path.join(work, "config.json")
        with open(config, "w") as f:
            json.dump(CONFIG, f)
        train = ["train", "--config", config, "--set", "run.max_steps=2"]

        def out(name):
            return ["--set", f'run.out="{os.path.join(work, name)}"']

        for variable, value in (("MTTT_DETERMINISTIC", "maybe"), ("MTTT_FUSION", "2"), ("MTTT_NUM_THREADS", "abc"),
                                ("MTTT_NUM_THREADS", "100000")):
            refused(f"{variable}={value}", mttt(*train, *out("env_bad"), env={variable: value}), variable, value)
        accepted("--help under unusual switch spellings", mttt("--help", env={"MTTT_FUSION": "off",
                                                                               "MTTT_DETERMINISTIC": "true"}))
        for i, (fusion, deterministic) in enumerate((("off", "yes"), ("ON", "no"), ("false", "1"))):
            accepted(f"MTTT_FUSION={fusion} MTTT_DETERMINISTIC={deterministic}",
                     mttt(*train, *out(f"env_ok_{i}"), env={"MTTT_FUSION": fusion, "MTTT_DETERMINISTIC": deterministic}))
        refused("--threads 100000", mttt("--threads", "100000", *train, *out("threads")), "--threads", "1 to 1024")
        refused("--heads 0", mttt("layer", "self_attention", "--heads", "0", "--params", config, "--input", config,
                                  "--out", os.path.join(work, "z.safetensors")), "--heads", "not in range 1 to")

        array_config = os.path.join(work, "array.json")
        with open(array_config, "w") as f:
            f.write("[1, 2]")
        refused("a JSON array as config", mttt("train", "--config", array_config), "array.json", "JSON object")
        refused("every parameter frozen", mttt(*train, *out("frozen"), "--set", 'model.frozen=["*"]'), "frozen",
                "nothing to train")
        refused("an empty run.out", mttt(*train, "--set", 'run.out=""'), "run.out is empty")

        # mttt layer: a shape whose element count overflows 64 bits (it wrapped to 0 and crashed).
        params = os.path.join(work, "params.safetensors")
        safetensors(params, {})
        bomb = os.path.join(work, "bomb.safetensors")
        safetensors(bomb, {"y": ("F32", [2**32, 2**32, 1], b"")})
        for kind in ("self_attention", "mttt_mlp", "mttt_linear"):
            refused(f"layer {kind} with an overflowing shape",
                    mttt("layer", kind, "--heads", "1", "--params", params, "--input", bomb, "--out",
                         os.path.join(work, "z.safetensors")), "'y'", "overflows")
        # --perm must be a permutation of the tokens, per head.
        y = os.path.join(work, "y.safetensors")
        safetensors(y, {"y": ("F32", [1, 4, 4], f32(16))})
        perm = os.path.join(work, "perm.safetensors")
        safetensors(perm, {"perm": ("I64", [1, 4], struct.pack("<4q", 0, 1, 1, 3))})
        refused("--perm with a repeated index",
                mttt("layer", "mttt_linear", "--heads", "1", "--params", params, "--input", y, "--sgd", "--steps", "2",
                     "--perm", perm, "--out", os.path.join(work, "z.safetensors")), "perm row 0", "1 repeats")

        # model.dtype = float64 trains (and its checkpoint evaluates).
        result = mttt(*train, *out("float64"), "--set", 'model.dtype="float64"', "--set", "run.max_steps=5")
        accepted("model.dtype = float64 trains", result)
        if result.returncode == 0:
            records = [json.loads(line) for line in open(os.path.join(work, "float64", "metrics.jsonl"))]
            losses = [r["loss"] for r in records if r["kind"] == "train"]
            if len(losses) != 5 or not all(isinstance(v, float) for v in losses):
                failures.append(f"float64 losses: {losses}")
            accepted("a float64 checkpoint evaluates",
                     mttt("eval", "--checkpoint", os.path.join(work, "float64", "checkpoint.safetensors")))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for f in failures:
        print("FAILED:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    MTTT = os.path.realpath(sys.argv[1])
    if not os.path.isdir(FASHION_MNIST):
        print("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist): skipped")
        sys.exit(77)
    sys.exit(main())
