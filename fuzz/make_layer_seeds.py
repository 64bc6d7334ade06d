#!/usr/bin/env python3
"""Writes fuzz/corpus/layer/: for each kind of `mttt layer`, a small valid request (D 4, H 2,
B 1, N 4, float32) in fuzz_layer.cpp's format: five flag bytes, the eta bytes, a safetensors
file holding the parameters, y, and for some a cotangent dz and an SGD permutation."""
import json
import os
import random
import struct

KINDS = ["self_attention", "linear_attention", "linear_attention_elu", "kernel", "mttt_linear", "mttt_mlp"]
D, H, B, N = 4, 2, 1, 4
d = D // H


def attention_params(out_name):
    return {f"{p}.kernel": (D, D) for p in ("query", "key", "value", out_name)} | \
           {f"{p}.bias": (D,) for p in ("query", "key", "value", out_name)}


def ttt_params(mlp):
    shapes = {"phi.kernel": (H, D, d), "phi.bias": (H, d), "psi.kernel": (H, D, d), "psi.bias": (H, d),
              "g.kernel": (H, d, D), "g.bias": (D,), "h.kernel": (H, d, D), "h.bias": (D,)}
    if mlp:
        shapes |= {"inner.0.kernel": (H, d, 4 * d), "inner.0.bias": (H, 4 * d), "inner.1.kernel": (H, 4 * d, d),
                   "inner.1.bias": (H, d), "decoder_ln.scale": (H, D), "decoder_ln.bias": (H, D)}
    else:
        shapes |= {"inner.0.kernel": (H, d, d)}
    return shapes


def safetensors(tensors):
    header, data = {}, b""
    for name, (dtype, shape, values) in tensors.items():
        raw = struct.pack(f"<{len(values)}{'f' if dtype == 'F32' else 'q'}", *values)
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header, separators=(",", ":")).encode()
    return struct.pack("<Q", len(text)) + text + data


def floats(shape, rng):
    n = 1
    for s in shape:
        n *= s
    return [rng.uniform(-0.5, 0.5) for _ in range(n)]


def seed(kind, steps=0, sgd=False, cotangent=False, etas=()):
    rng = random.Random(f"{kind}{steps}{sgd}{cotangent}")
    if kind in ("mttt_linear", "mttt_mlp"):
        shapes = ttt_params(kind == "mttt_mlp")
    else:
        shapes = attention_params("proj" if kind.startswith("linear") else "out")
    tensors = {name: ("F32", shape, floats(shape, rng)) for name, shape in shapes.items()}
    tensors["y"] = ("F32", (B, N, D), floats((B, N, D), rng))
    if cotangent:
        tensors["dz"] = ("F32", (B, N, D), floats((B, N, D), rng))
    if sgd:
        tensors["perm"] = ("I64", (H, N), [i for _ in range(H) for i in rng.sample(range(N), N)])
    flags = bytes([KINDS.index(kind), H - 1, steps, int(sgd), len(etas)]) + bytes(etas)
    return flags + safetensors(tensors)


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "layer")
    os.makedirs(out, exist_ok=True)
    seeds = {kind: seed(kind, cotangent=True) for kind in KINDS}
    seeds["mttt_mlp_sgd_t2"] = seed("mttt_mlp", steps=2, sgd=True, etas=(16, 8))
    seeds["mttt_linear_t4"] = seed("mttt_linear", steps=4, cotangent=True, etas=(16, 16, 8, 8))
    for name, data in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
