"""The drop-in layers of docs/mttt-layer.md in plain PyTorch: the project's own reference, written
from that page (not from mttt's C++), used to make and to check tests/data/vectors.

Shapes: B batch, N tokens, D width, H heads, d = D / H. A dense layer is x @ kernel + bias with
kernel (in, out). Every function takes the layer's parameters as a dict by their checkpoint names
and returns the output z (B, N, D); the TTT layers also return their inner-loop record.
"""
import math

import torch
import torch.nn.functional as F

LN_EPS = 1e-6


def gelu(x):
    return F.gelu(x, approximate="tanh")


def layer_norm(x, scale=None, bias=None):
    """Over the last axis, biased variance."""
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean) ** 2).mean(-1, keepdim=True)
    out = (x - mean) / torch.sqrt(var + LN_EPS)
    if scale is not None:
        out = out * scale
    if bias is not None:
        out = out + bias
    return out


def split_heads(x, heads):
    """(B, N, D) -> (B, H, N, d): head h takes columns h d .. (h + 1) d - 1."""
    b, n, width = x.shape
    return x.reshape(b, n, heads, width // heads).transpose(1, 2)


def merge_heads(x):
    b, h, n, d = x.shape
    return x.transpose(1, 2).reshape(b, n, h * d)


def dense(x, p, name):
    return x @ p[name + ".kernel"] + p[name + ".bias"]


def self_attention(p, y, heads):
    q, k, v = (split_heads(dense(y, p, n), heads) for n in ("query", "key", "value"))
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    return dense(merge_heads(torch.softmax(scores, -1) @ v), p, "out")


def linear_attention(p, y, heads):
    """Identity feature map: out = Q (K^T V) / (N d) per head."""
    q, k, v = (split_heads(dense(y, p, n), heads) for n in ("query", "key", "value"))
    n, d = q.shape[-2], q.shape[-1]
    return dense(merge_heads(q @ (k.transpose(-1, -2) @ v) / (n * d)), p, "proj")


def linear_attention_elu(p, y, heads):
    """Katharopoulos et al.: elu + 1 on Q and K before the head split; out_i = Q_i (K^T V) / (Q_i . sum_j K_j)."""
    q = split_heads(F.elu(dense(y, p, "query")) + 1, heads)
    k = split_heads(F.elu(dense(y, p, "key")) + 1, heads)
    v = split_heads(dense(y, p, "value"), heads)
    numerator = q @ (k.transpose(-1, -2) @ v)
    denominator = q @ k.sum(-2, keepdim=True).transpose(-1, -2)
    return dense(merge_heads(numerator / denominator), p, "proj")


# ---- TTT layers -----------------------------------------------------------------------------
# Inner weights W of one head for every image: a dict by name, each (B, ...) (per image, since the
# inner loop runs on each image's own tokens).

def learner_apply(kind, w, k):
    """f(W, k) for keys k (B, M, d)."""
    if kind == "mttt_linear":
        return k @ w["inner.0.kernel"]
    hidden = gelu(k @ w["inner.0.kernel"] + w["inner.0.bias"].unsqueeze(-2))
    return hidden @ w["inner.1.kernel"] + w["inner.1.bias"].unsqueeze(-2)


def inner_loss(kind, p, h, w, k, target, decoder_ln):
    """Per image: 1 / (2 |S| d) sum_{i in S} || recon_i - y_i ||^2, recon = [LN_h](f(W, K_S) g_h + g.bias)."""
    recon = learner_apply(kind, w, k) @ p["g.kernel"][h] + p["g.bias"]
    if decoder_ln:
        recon = layer_norm(recon, p["decoder_ln.scale"][h], p["decoder_ln.bias"][h])
    size, d = k.shape[-2], k.shape[-1]
    return ((recon - target) ** 2).sum((-2, -1)) / (2 * size * d)


def ttt_layer(p, y, heads, kind, steps, eta, sgd, decoder_ln, perm=None):
    """The TTT layer (paper eqs. 1-3): per head, T gradient steps of the inner loss on the training
    view K from W_0, then the test view Q through f(W_T, .), projected by h. Returns z and a record:
    W_t per step (t = 1..T, each (B, H, ...)), the inner losses (B, H) of every step on its tokens
    and of W_T on all tokens."""
    b, n, _ = y.shape
    names = ["inner.0.kernel"] if kind == "mttt_linear" else ["inner.0.kernel", "inner.0.bias", "inner.1.kernel",
                                                              "inner.1.bias"]
    z = p["h.bias"]
    weights = [[] for _ in range(steps)]
    losses = [[] for _ in range(steps + 1)]
    for h in range(heads):
        k = y @ p["phi.kernel"][h] + p["phi.bias"][h]
        q = y @ p["psi.kernel"][h] + p["psi.bias"][h]
        w = {name: p[name][h].expand(b, *p[name][h].shape) for name in names}
        chunk = n // steps
        for t in range(steps):
            tokens = perm[h, t * chunk:(t + 1) * chunk] if sgd else torch.arange(n)
            loss = inner_loss(kind, p, h, w, k[:, tokens], y[:, tokens], decoder_ln)
            losses[t].append(loss)
            grads = torch.autograd.grad(loss.sum(), [w[name] for name in names], create_graph=True)
            w = {name: w[name] - eta[t] * g for name, g in zip(names, grads)}
            weights[t].append(w)
        losses[steps].append(inner_loss(kind, p, h, w, k, y, decoder_ln))
        z = z + learner_apply(kind, w, q) @ p["h.kernel"][h]
    record = {"W": [{name: torch.stack([w[name] for w in per_head], 1) for name in names} for per_head in weights],
              "losses": [torch.stack(per_head, 1) for per_head in losses]}
    return z, record
