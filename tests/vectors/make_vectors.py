"""Makes, or checks, the layer test vectors of tests/data/vectors with the project's own PyTorch
reference (reference.py, written from docs/mttt-layer.md). Each case and dtype is four or five
safetensors files: params, input (y), cotangent (dz), perm (SGD token orders, (H, N) int64) and
expected: z, loss = sum(z * dz), the gradient of the loss for every parameter and y (grad.<name>,
second order through the inner loop), and for TTT layers the inner losses per step (aux.inner_loss.*,
(B, H)), the fast weights after each step (aux.W.step<t>.<name>, (B, H, ...)) and inner_losses
(T + 1: summed over heads, averaged over images). The metadata carry the case's options (cli), its
frozen parameters, its sizes and the seed; tests/mttt/test_spec_vectors.cpp runs `mttt layer` on
them.

    /usr/bin/python3 tests/vectors/make_vectors.py make tests/data/vectors [--seed 1]
    /usr/bin/python3 tests/vectors/make_vectors.py check tests/data/vectors     # recompute and compare

`check` exits 1 when an expected tensor differs beyond 1e-10 (float64) or 1e-4 (float32) relative
to its largest value, and 77 (a skipped test) when torch is missing.
"""
import argparse
import json
import os
import sys

try:
    import torch
except ImportError:
    print("make_vectors: torch is not installed (Debian: python3-torch); nothing checked")
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference  # noqa: E402
import safetensors_file  # noqa: E402

SIZES = {"B": 2, "N": 8, "D": 12, "H": 3}
FORMAT = "mttt-vectors-v1"


def ttt(kind, steps, sgd=False, decoder_ln=None, train_w0=None):
    mlp = kind == "mttt_mlp"
    decoder_ln = mlp if decoder_ln is None else decoder_ln
    train_w0 = mlp if train_w0 is None else train_w0
    return {"kind": kind, "steps": steps, "eta": [1.0] * steps, "sgd": sgd, "decoder_ln": decoder_ln,
            "train_w0": train_w0, "inner_loss": "1/(2|S|d)"}


CASES = {
    "self_attention": {"kind": "self_attention"},
    "linear_attention": {"kind": "linear_attention", "normaliser": "N*d"},
    "linear_attention_elu": {"kind": "linear_attention_elu"},
    "mttt_linear": ttt("mttt_linear", 1),
    "mttt_linear_t2": ttt("mttt_linear", 2),
    "mttt_mlp_t1": ttt("mttt_mlp", 1),
    "mttt_mlp_t4": ttt("mttt_mlp", 4),
    "mttt_mlp_t4_sgd": ttt("mttt_mlp", 4, sgd=True),
    "mttt_mlp_t1_noln_fixw0": ttt("mttt_mlp", 1, decoder_ln=False, train_w0=False),
}
DTYPES = {"f64": torch.float64, "f32": torch.float32}


def parameter_shapes(cli, width, heads):
    d = width // heads
    if cli["kind"] in ("self_attention", "linear_attention", "linear_attention_elu"):
        out = "out" if cli["kind"] == "self_attention" else "proj"
        return {f"{n}.{part}": ((width, width) if part == "kernel" else (width,))
                for n in ("query", "key", "value", out) for part in ("kernel", "bias")}
    shapes = {"phi.kernel": (heads, width, d), "phi.bias": (heads, d), "psi.kernel": (heads, width, d),
              "psi.bias": (heads, d), "g.kernel": (heads, d, width), "g.bias": (width,),
              "h.kernel": (heads, d, width), "h.bias": (width,)}
    if cli["kind"] == "mttt_linear":
        shapes["inner.0.kernel"] = (heads, d, d)
    else:
        shapes.update({"inner.0.kernel": (heads, d, 4 * d), "inner.0.bias": (heads, 4 * d),
                       "inner.1.kernel": (heads, 4 * d, d), "inner.1.bias": (heads, d)})
    if cli.get("decoder_ln"):
        shapes.update({"decoder_ln.scale": (heads, width), "decoder_ln.bias": (heads, width)})
    return shapes


def frozen(cli):
    if cli["kind"] == "mttt_linear" or (cli["kind"] == "mttt_mlp" and not cli["train_w0"]):
        return [n for n in parameter_shapes(cli, 12, 3) if n.startswith("inner.")]
    return []


def evaluate(cli, params, y, dz, perm):
    """z, loss = sum(z * dz), its gradients for every parameter and y, and the TTT record."""
    heads = SIZES["H"]
    params = {n: t.detach().clone().requires_grad_() for n, t in params.items()}
    y = y.detach().clone().requires_grad_()
    kind = cli["kind"]
    record = None
    if kind == "self_attention":
        z = reference.self_attention(params, y, heads)
    elif kind == "linear_attention":
        z = reference.linear_attention(params, y, heads)
    elif kind == "linear_attention_elu":
        z = reference.linear_attention_elu(params, y, heads)
    else:
        z, record = reference.ttt_layer(params, y, heads, kind, cli["steps"], cli["eta"], cli["sgd"],
                                        cli["decoder_ln"], perm)
    loss = (z * dz).sum()
    names = sorted(params)
    grads = torch.autograd.grad(loss, [params[n] for n in names] + [y])
    out = {"z": z, "loss": loss, "grad.y": grads[-1]}
    out.update({f"grad.{n}": g for n, g in zip(names, grads[:-1])})
    if record is not None:
        for t, weights in enumerate(record["W"]):
            out.update({f"aux.W.step{t + 1}.{n}": w for n, w in weights.items()})
        steps = cli["steps"]
        for t, losses in enumerate(record["losses"]):
            out["aux.inner_loss." + ("final" if t == steps else f"step{t}")] = losses
        out["inner_losses"] = torch.stack([l.sum(1).mean(0) for l in record["losses"]])
    return {n: t.detach() for n, t in out.items()}


def make(directory, seed):
    os.makedirs(directory, exist_ok=True)
    for index, (case, cli) in enumerate(CASES.items()):
        generator = torch.Generator().manual_seed(seed * 1000 + index)
        shapes = parameter_shapes(cli, SIZES["D"], SIZES["H"])
        # Every parameter random (biases, scales and W0 too), so that every gradient is exercised.
        params64 = {n: 0.5 * torch.randn(shapes[n], generator=generator, dtype=torch.float64) for n in sorted(shapes)}
        if cli.get("decoder_ln"):
            params64["decoder_ln.scale"] = params64["decoder_ln.scale"] + 1
        y64 = torch.randn(SIZES["B"], SIZES["N"], SIZES["D"], generator=generator, dtype=torch.float64)
        dz64 = torch.randn(SIZES["B"], SIZES["N"], SIZES["D"], generator=generator, dtype=torch.float64)
        perm = torch.stack([torch.randperm(SIZES["N"], generator=generator) for _ in range(SIZES["H"])])
        for tag, dtype in DTYPES.items():
            meta = {"case": case, "dtype": tag, "cli": json.dumps(cli), "frozen": json.dumps(frozen(cli)),
                    "config": json.dumps(SIZES), "seed": str(seed), "format": FORMAT}
            params = {n: t.to(dtype) for n, t in params64.items()}
            y, dz = y64.to(dtype), dz64.to(dtype)
            base = os.path.join(directory, f"{case}.{tag}")
            safetensors_file.save(base + ".params.safetensors", params, meta)
            safetensors_file.save(base + ".input.safetensors", {"y": y}, meta)
            safetensors_file.save(base + ".cotangent.safetensors", {"dz": dz}, meta)
            if cli.get("sgd"):
                safetensors_file.save(base + ".perm.safetensors", {"perm": perm}, meta)
            safetensors_file.save(base + ".expected.safetensors", evaluate(cli, params, y, dz, perm), meta)
        print(f"made {case} (f64, f32)")


def check(directory):
    worst_failure = 0
    for case in CASES:
        for tag in DTYPES:
            base = os.path.join(directory, f"{case}.{tag}")
            params, meta = safetensors_file.load(base + ".params.safetensors")
            cli = json.loads(meta["cli"])
            y = safetensors_file.load(base + ".input.safetensors")[0]["y"]
            dz = safetensors_file.load(base + ".cotangent.safetensors")[0]["dz"]
            perm = safetensors_file.load(base + ".perm.safetensors")[0]["perm"] if cli.get("sgd") else None
            expected = safetensors_file.load(base + ".expected.safetensors")[0]
            mine = evaluate(cli, params, y, dz, perm)
            # As tests/mttt/test_spec_vectors.cpp: relative to each tensor's largest value, and to
            # 1e-3 of the case's largest for tensors that are zero in exact arithmetic.
            scale = max(t.abs().max().item() for n, t in expected.items() if n == "z" or n.startswith("grad."))
            tolerance = 1e-10 if tag == "f64" else 1e-4
            worst, worst_name = 0.0, "every tensor bitwise equal"
            for name, t in expected.items():
                if name not in mine:
                    print(f"{case}.{tag}: {name} is in the file but the reference does not make it")
                    worst_failure = 1
                    continue
                error = ((mine[name].double() - t.double()).abs().max().item()
                         / max(t.double().abs().max().item(), 1e-3 * scale, 1e-300))
                if error > worst:
                    worst, worst_name = error, name
            missing = sorted(set(mine) - set(expected))
            ok = worst <= tolerance and not missing
            worst_failure |= not ok
            print(f"{case}.{tag}: largest relative error {worst:.2e} ({worst_name}), tolerance {tolerance:g}"
                  + (f"; missing from the file: {missing}" if missing else "") + ("" if ok else "  FAILED"))
    return worst_failure


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=["make", "check"])
    parser.add_argument("directory")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.mode == "make":
        make(args.directory, args.seed)
        return 0
    return check(args.directory)


if __name__ == "__main__":
    sys.exit(main())
