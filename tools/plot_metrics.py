#!/usr/bin/env python3
"""Plots a metrics file (JSON lines) written by `mttt train` as PNG images.

    python3 tools/plot_metrics.py METRICS.jsonl --out DIR [--title TEXT]

Writes, as far as the records allow:
  loss.png        training loss per step (and evaluation loss per epoch)
  accuracy.png    evaluation top-1 accuracy per epoch
  inner_loss.png  for TTT layers: the inner-loop loss l(W_t) after each step t, per epoch of the
                  evaluation pass, one panel per layer (the paper's figures 1 right, 3 and 4)

Records: {"kind": "train", "step", "epoch", "loss", ...} and {"kind": "eval", "step", "epoch",
"loss", "accuracy", "inner_losses": {layer: [l_0, ..., l_T]}}.
"""
import argparse
import json
import math
import os
import sys

# Exit status 3 says that matplotlib is missing (mttt plot then suggests installing it).
MISSING_MATPLOTLIB = 3
try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: E402
except ImportError as e:
    print(f"plot: matplotlib cannot be imported ({e}); apt-get install python3-matplotlib", file=sys.stderr)
    sys.exit(MISSING_MATPLOTLIB)


def read(path):
    """The records; an unterminated last line that is not JSON (a writer killed mid-record) is
    skipped with a warning, as mttt's own reader does; any other bad line is an error."""
    records = []
    with open(path) as f:
        lines = f.readlines()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as e:
            if number == len(lines) and not line.endswith("\n"):
                print(f"plot: warning: {path}:{number}: skipped a truncated last line", file=sys.stderr)
                continue
            sys.exit(f"plot: {path}:{number}: not JSON ({e})")
    return records


def plot_loss(train, evals, out, title):
    fig, ax = plt.subplots(figsize=(7, 4.5))
    if train:
        ax.plot([r["step"] for r in train], [r["loss"] for r in train], lw=0.8, alpha=0.8, label="train (per step)")
    if evals:
        ax.plot([r["step"] for r in evals], [r["loss"] for r in evals], "o-", label="evaluation (per epoch)")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy")
    ax.set_title(title + "loss")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def plot_accuracy(evals, out, title):
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot([r["epoch"] for r in evals], [100 * r["accuracy"] for r in evals], "o-")
    ax.set_xlabel("epoch")
    ax.set_ylabel("top-1 accuracy (%)")
    ax.set_title(title + "evaluation accuracy")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def plot_inner(evals, out, title):
    layers = sorted({k for r in evals for k in r.get("inner_losses", {})},
                    key=lambda s: [int(p) if p.isdigit() else p for p in s.split(".")])
    if not layers:
        return False
    cols = min(4, len(layers))
    rows = math.ceil(len(layers) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.2 * rows), squeeze=False)
    for i, layer in enumerate(layers):
        ax = axes[i // cols][i % cols]
        points = [(r["epoch"], r["inner_losses"][layer]) for r in evals if layer in r.get("inner_losses", {})]
        steps = len(points[0][1])
        for t in range(steps):
            ax.plot([p[0] for p in points], [p[1][t] for p in points], "o-", ms=3, label=f"t = {t}")
        ax.set_title(layer, fontsize=9)
        ax.set_xlabel("epoch")
        ax.set_ylabel("inner loss")
        ax.grid(alpha=0.3)
        if i == 0:
            ax.legend(fontsize=7)
    for j in range(len(layers), rows * cols):
        axes[j // cols][j % cols].axis("off")
    fig.suptitle(title + "inner-loop loss after each step t (evaluation pass)")
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return True


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("metrics")
    parser.add_argument("--out", default=".")
    parser.add_argument("--title", default="")
    args = parser.parse_args()
    records = read(args.metrics)
    train = [r for r in records if r.get("kind") == "train" and "loss" in r]
    evals = [r for r in records if r.get("kind") == "eval"]
    if not train and not evals:
        sys.exit(f"plot: {args.metrics} holds no train or eval records")
    os.makedirs(args.out, exist_ok=True)
    title = args.title + ": " if args.title else ""
    written = []
    plot_loss(train, evals, os.path.join(args.out, "loss.png"), title)
    written.append("loss.png")
    if any("accuracy" in r for r in evals):
        plot_accuracy([r for r in evals if "accuracy" in r], os.path.join(args.out, "accuracy.png"), title)
        written.append("accuracy.png")
    if plot_inner(evals, os.path.join(args.out, "inner_loss.png"), title):
        written.append("inner_loss.png")
    print("wrote " + ", ".join(os.path.join(args.out, w) for w in written))


if __name__ == "__main__":
    main()
