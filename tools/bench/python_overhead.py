"""Per-op call overhead from Python: a chain of small ops (4 float32 elements, so that the
arithmetic costs nothing) run from Python through mttt and through PyTorch in the same process,
in microseconds per op. Three rows: without recording (no_grad), recording on the tape, and
recording plus the backward sweep (per forward op). The best of --repeats runs after a warm-up
counts.

Run on an otherwise idle machine, with the build tree's package and Debian's interpreter:
  PYTHONPATH=build/python MTTT_NUM_THREADS=1 /usr/bin/python3 tools/bench/python_overhead.py
"""

import argparse
import time

import mttt


def chain(lib, x, ops):
    """`ops` small ops: y = tanh(y * 0.999 + 0.001), three ops a round."""
    y = x
    for _ in range(ops // 3):
        y = lib.tanh(y * 0.999 + 0.001)
    return y


def best_seconds(fn, repeats):
    fn()  # warm-up: memory pools, lazy initialisation
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def measure(lib, make, no_grad, repeats, ops):
    x = make()
    with no_grad():
        forward_off = best_seconds(lambda: chain(lib, x, ops), repeats)
    xg = make()
    xg.requires_grad_()
    recorded = best_seconds(lambda: chain(lib, xg, ops), repeats)
    with_backward = best_seconds(lambda: lib.sum(chain(lib, xg, ops)).backward(), repeats)
    n = (ops // 3) * 3
    return [s / n * 1e6 for s in (forward_off, recorded, with_backward)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ops", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rows = {"mttt": measure(mttt, lambda: mttt.ones(4), mttt.no_grad, args.repeats, args.ops)}
    try:
        import torch
        torch.set_num_threads(1)
        rows["torch " + torch.__version__] = measure(torch, lambda: torch.ones(4), torch.no_grad, args.repeats, args.ops)
    except ImportError:
        print("PyTorch is not installed: mttt only")
    print(f"{args.ops} small ops from Python, microseconds per op (best of {args.repeats}; "
          f"mttt threads {mttt.num_threads()})")
    print(f"{'':<20} {'no_grad':>10} {'recorded':>10} {'+backward':>10}")
    for name, values in rows.items():
        print(f"{name:<20} " + " ".join(f"{v:>10.2f}" for v in values))


if __name__ == "__main__":
    main()
