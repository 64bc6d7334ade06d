"""Bilevel optimisation with two nested loops, the way MTTT trains a TTT layer, on a toy that
fits on a screen: bilevel.cpp in Python, line for line. Read it next to the paper, sections 2
and 3.

The data. Each instance X is a set of n noisy tokens x_i = U c_i + noise in R^D, where the
subspace U (rank r) is the instance's own: no two instances share it. The main task is to
denoise each token: predict the clean U c_i from x_i. No fixed map can do that for every
instance, since each instance has its own subspace; but the instance's tokens themselves show
where its subspace lies, if something learns from them at test time.

The inner loop (paper eqs. 1-2) learns on each instance by self-supervision: a linear encoder
W (D x D) is fitted by T gradient steps to reconstruct each token x_i from a view phi(x_i):
    l(W; X) = 1/(2n) sum_i || g(f(phi(x_i); W)) - x_i ||^2,   W_t = W_{t-1} - eta grad l(W_{t-1}; X)
The outer loop (eqs. 4-6) learns everything the inner loop is given (the views phi and psi,
the decoder g, the head h, the initial W0 and the step size eta) by gradient descent on the
main-task loss after the T inner steps, differentiating through those steps.

Run: PYTHONPATH=build/python python3 examples/bilevel/bilevel.py   (prints inner losses per
step and the outer objective as training goes; the same numbers as the C++ program)
"""

import math

import mttt

BATCH = 32        # instances per outer step
TOKENS = 24       # n: tokens per instance, the inner loop's "dataset"
WIDTH = 8         # D
RANK = 2          # r: each instance's subspace
INNER_STEPS = 3   # T
NOISE = 0.15      # per coordinate; clean tokens have norm about 1
F64 = mttt.float64


def sample():
    """(noisy, clean), each (B, n, D): the instance, all the inner loop sees, and the labels."""
    with mttt.no_grad():
        basis = mttt.normal((BATCH, WIDTH, RANK), dtype=F64)  # U, one per instance
        codes = mttt.normal((BATCH, RANK, TOKENS), dtype=F64)
        clean = mttt.transpose(basis @ codes) * (1.0 / math.sqrt(RANK * WIDTH))  # (B, n, D)
        return clean + mttt.normal(clean.shape, 0, NOISE, dtype=F64), clean


def init():
    """What the outer loop learns: theta = (phi, psi, g, h, W0, log eta), paper section 3."""
    def matrix():
        return (mttt.eye(WIDTH, dtype=F64) + mttt.normal((WIDTH, WIDTH), 0, 0.1, dtype=F64)).detach().requires_grad_()
    return {"phi": matrix(), "psi": matrix(), "g": matrix(), "h": matrix(),
            "w0": mttt.zeros((WIDTH, WIDTH), dtype=F64, requires_grad=True),
            "log_eta": mttt.full((), math.log(1.0), dtype=F64, requires_grad=True)}


def inner_loss(t, W, x):
    """Eq. (1): the self-supervised loss of fast weights W (B, D, D) on every instance at once,
    summed over instances (each instance's W only sees its own loss)."""
    reconstruction = x @ t["phi"] @ W @ t["g"]  # g(f(phi(x); W))
    return mttt.sum(mttt.square(reconstruction - x)) * (1.0 / (2.0 * TOKENS))


def forward(t, x):
    """The prediction (B, n, D) and the inner losses l(W_t; X), t = 0..T, averaged over instances."""
    inner_losses = []
    outer = mttt.grad_enabled()  # training: differentiate through the inner loop
    eta = mttt.exp(t["log_eta"])
    with mttt.enable_grad():  # the inner loop takes gradients even at evaluation
        # Every instance starts from W0 and learns its own W.
        W = mttt.expand(mttt.unsqueeze(t["w0"], 0), (BATCH, WIDTH, WIDTH))
        if not outer:
            W = W.detach().requires_grad_()
        for _ in range(INNER_STEPS):
            loss = inner_loss(t, W, x)
            inner_losses.append(loss.item() / BATCH)
            # Eq. (2). create_graph: the outer gradient will flow through this gradient too, the
            # second-order term that makes phi and g (the self-supervised task) learnable at all.
            gradient = mttt.grad(loss, W, create_graph=outer)
            W = W - eta * gradient
            if not outer:
                W = W.detach().requires_grad_()
        inner_losses.append(inner_loss(t, W, x).item() / BATCH)
        # Eq. (3): predict with the adapted weights, h(f(psi(x); W_T)).
        return x @ t["psi"] @ W @ t["h"], inner_losses


def main_task_loss(prediction, clean):
    return mttt.mean(mttt.square(prediction - clean))


def main():
    mttt.manual_seed(2)
    theta = init()
    mttt.manual_seed(1)
    # Outer loop optimiser: Adam on theta, as MTTT trains a whole ViT with it.
    adam = mttt.Adam(theta, lr=0.001, schedule="cosine", warmup=100, total=3000, clip_norm=1.0)

    test_noisy, test_clean = sample()

    def evaluate():
        with mttt.no_grad():  # the inner loop still learns; nothing is recorded for the outer loop
            prediction, inner = forward(theta, test_noisy)
            return main_task_loss(prediction, test_clean).item(), inner

    with mttt.no_grad():
        identity = main_task_loss(test_noisy, test_clean).item()
    # Without an inner loop, the best any fixed map can do is shrink each token towards 0 (the
    # subspaces are random, so on average every direction looks alike): Wiener shrinkage with
    # signal variance 1/D and noise variance sigma^2 per coordinate.
    signal, noise = 1.0 / WIDTH, NOISE * NOISE
    print(f"Main-task loss of returning the noisy tokens unchanged: {identity:.4f}")
    print(f"Best fixed linear map, which cannot adapt to an instance:  {signal * noise / (signal + noise):.4f}\n")
    print(f"{'outer':>6} {'test loss':>11} {'eta':>9}   inner loss l(W_t) on test instances, t = 0..{INNER_STEPS}")
    for step in range(3001):
        if step % 375 == 0:
            loss, inner = evaluate()
            eta = math.exp(theta["log_eta"].item())
            print(f"{step:>6} {loss:>11.4f} {eta:>9.4f}   " + " -> ".join(f"{v:.4f}" for v in inner))
        noisy, clean = sample()
        prediction, _ = forward(theta, noisy)
        main_task_loss(prediction, clean).backward()  # through the inner loop: the outer gradient of eqs. (4)-(6)
        adam.step()
        adam.zero_grad()
    print("\nEach row: the outer loop's progress (test loss falls) and, within it, the inner loop\n"
          "learning each test instance (its self-supervised loss falls with every step).")


if __name__ == "__main__":
    main()
