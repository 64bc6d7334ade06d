"""MTTT-MLP checked against a PyTorch implementation written in a few lines, the way a
researcher checks a layer against their own code: the same parameters and input, exchanged by
DLPack, the output and every gradient compared (float64, to rounding error).

The PyTorch side is the layer of docs/mttt-layer.md ("The TTT layer", MLP learner), full-batch
gradient steps, decoder LN on, written for all images and heads at once.

Run: PYTHONPATH=build/python python3 examples/python/mttt_mlp_vs_torch.py [--steps T]
"""

import argparse

import torch
import torch.nn.functional as F

import mttt


def mttt_mlp_torch(p, y, steps, eta=1.0):
    """z (B, N, D) from parameters p by the spec's names and tokens y (B, N, D)."""
    B, N, D = y.shape
    d = p["phi.kernel"].shape[-1]
    K = torch.einsum("bnk,hkd->bhnd", y, p["phi.kernel"]) + p["phi.bias"][:, None]  # training view
    Q = torch.einsum("bnk,hkd->bhnd", y, p["psi.kernel"]) + p["psi.bias"][:, None]  # test view

    def f(W, k):  # the MLP learner, per image and head
        W1, b1, W2, b2 = W
        return F.gelu(k @ W1 + b1[..., None, :], approximate="tanh") @ W2 + b2[..., None, :]

    def loss(W):  # eq. (1), one value per image and head
        r = f(W, K) @ p["g.kernel"] + p["g.bias"]
        mean, var = r.mean(-1, keepdim=True), r.var(-1, unbiased=False, keepdim=True)
        r = (r - mean) / torch.sqrt(var + 1e-6) * p["decoder_ln.scale"][:, None] + p["decoder_ln.bias"][:, None]
        return ((r - y[:, None]) ** 2).sum((-2, -1)) / (2 * N * d)

    names = ["inner.0.kernel", "inner.0.bias", "inner.1.kernel", "inner.1.bias"]
    W = [p[n].expand(B, *p[n].shape) for n in names]  # every image starts from W0
    for _ in range(steps):  # eq. (2), differentiable: the outer gradient goes through it
        grads = torch.autograd.grad(loss(W).sum(), W, create_graph=True)
        W = [w - eta * g for w, g in zip(W, grads)]
    return (f(W, Q) @ p["h.kernel"]).sum(1) + p["h.bias"]  # eq. (3)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--tokens", type=int, default=16)
    parser.add_argument("--width", type=int, default=24)
    parser.add_argument("--heads", type=int, default=3)
    args = parser.parse_args()

    # Parameters and input made by mttt, handed to PyTorch through DLPack (zero-copy), then
    # made leaves of PyTorch's own graph.
    params = mttt.ttt_parameters("mttt_mlp", args.width, args.heads, dtype=mttt.float64, seed=1)
    params = {n: t + mttt.uniform(t.shape, -0.1, 0.1, dtype=mttt.float64) for n, t in params.items()}  # no zero biases
    y = mttt.uniform((args.batch, args.tokens, args.width), -1, 1, dtype=mttt.float64)
    dz = mttt.uniform(y.shape, -1, 1, dtype=mttt.float64)
    tp = {n: torch.from_dlpack(t).clone().requires_grad_() for n, t in params.items()}
    ty = torch.from_dlpack(y).clone().requires_grad_()

    z_torch = mttt_mlp_torch(tp, ty, args.steps)
    grads_torch = torch.autograd.grad((z_torch * torch.from_dlpack(dz)).sum(), [ty] + list(tp.values()))

    leaves = {n: t.detach().requires_grad_() for n, t in params.items()}
    y_leaf = y.detach().requires_grad_()
    z = mttt.ttt_forward(leaves, y_leaf, kind="mttt_mlp", heads=args.heads, steps=args.steps)["z"]
    grads = mttt.grad(mttt.sum(z * dz), [y_leaf] + list(leaves.values()))

    def error(mine, theirs):  # PyTorch's result comes back through DLPack
        theirs = mttt.from_dlpack(theirs.detach())
        return (mttt.max(abs(mine - theirs)) / mttt.max(abs(theirs))).item()

    rows = [("z", error(z, z_torch))] + [
        ("grad." + n, error(g, tg)) for n, g, tg in zip(["y"] + list(params), grads, grads_torch)]
    print(f"MTTT-MLP, T = {args.steps}, B {args.batch}, N {args.tokens}, D {args.width}, H {args.heads}: "
          "relative error against PyTorch (float64)")
    for name, e in rows:
        print(f"  {name:<24} {e:.2e}")
    worst = max(e for _, e in rows)
    print(f"worst {worst:.2e}: {'agree' if worst < 1e-10 else 'DISAGREE'} (tolerance 1e-10)")
    raise SystemExit(0 if worst < 1e-10 else 1)


if __name__ == "__main__":
    main()
