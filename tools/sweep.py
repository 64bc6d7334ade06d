#!/usr/bin/env python3
"""Runs an experiment grid with `mttt train`, and rebuilds its table and figures from what finished.

    python3 tools/sweep.py run     [--grid FILE] [--only NAME,...] [--mttt PATH]
    python3 tools/sweep.py status  [--grid FILE]
    python3 tools/sweep.py report  [--grid FILE] [--table FILE] [--figures DIR]

A grid is a JSON file whose "runs" each name a config (one file per experiment, so that a row is
reproduced by `mttt train --config FILE`), the setting, the layer's title, the seed and, for TTT
layers, the inner steps. `run` goes through the grid in order: a run whose last epoch has been
evaluated is skipped, a run with a checkpoint is resumed from it (`--resume`), any other starts
afresh; an interrupted sweep is continued by running the same command again. `report` writes the
markdown table (test accuracy, parameters, FLOPs relative to linear attention from `mttt flops`,
training seconds per epoch, the command) between the markers of docs/experiments.md, and the PNG
figures, from whatever has finished, so a grid can be spread over several sittings.

Paths inside a grid file (configs, results, the configs' run folders) are relative to the folder
the sweep works in: the repository root for the default grid (the sweep moves there, wherever it
is started from), else the current folder. Paths given as options are relative to the current
folder; the defaults of --mttt, --table and --figures are the repository's.

A finished run's metrics are archived in the grid's results folder ("results" in the grid file,
committed with the repository): the run folders under runs/ hold checkpoints and are not kept, so
the archive is what a later sitting (on another machine) skips, reports and draws from.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the repository, from this file's place
DEFAULT_GRID = os.path.join("examples", "experiments", "fashion_mnist_grid.json")
DEFAULT_MTTT = os.path.join(ROOT, "build", "tools", "cli", "mttt")


def load_json_with_comments(path, what):
    """mttt's configs allow // comments on their own lines. A missing or malformed file ends the
    sweep with a message naming it and what it is (`what`)."""
    if not os.path.isfile(path):
        sys.exit(f"sweep: {what} {path} does not exist (relative paths are from {os.getcwd()})")
    with open(path) as f:
        text = "".join(line for line in f if not line.lstrip().startswith("//"))
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        sys.exit(f"sweep: {what} {path} is not valid JSON: {e}")


def load_grid(path):
    grid = load_json_with_comments(path, "the grid file")
    if not isinstance(grid.get("runs"), list) or not all(isinstance(r, dict) for r in grid["runs"]):
        sys.exit(f"sweep: {path}: expected an object with \"runs\": a list of runs")
    for r in grid["runs"]:
        missing = [key for key in ("name", "config", "setting", "layer", "seed") if key not in r]
        if missing:
            sys.exit(f"sweep: {path}: run {r.get('name', r)} lacks {', '.join(missing)}")
    names = [r["name"] for r in grid["runs"]]
    if len(names) != len(set(names)):
        sys.exit(f"sweep: {path}: run names must be unique")
    results = grid.get("results")
    for r in grid["runs"]:
        r["cfg"] = load_json_with_comments(r["config"], f"run {r['name']}'s config")
        run_section = r["cfg"].get("run", {})
        if "out" not in run_section or "epochs" not in run_section:
            sys.exit(f"sweep: {r['config']} (run {r['name']}) must set run.out and run.epochs: the sweep finds "
                     "and judges the run by them")
        r["out"] = run_section["out"]
        r["epochs"] = run_section["epochs"]
        r["archive"] = os.path.join(results, r["name"] + ".metrics.jsonl") if results else None
    return grid


def metrics_path(run):
    """The run folder's metrics while it runs; the archived copy once it has finished."""
    live = os.path.join(run["out"], "metrics.jsonl")
    if run["archive"] and os.path.exists(run["archive"]) and finished(read_eval_records(run["archive"]), run):
        return run["archive"]
    return live


def finished(records, run):
    return any(r["epoch"] >= run["epochs"] for r in records)


def threads_used():
    """The thread count mttt train runs with: MTTT_NUM_THREADS, else every core."""
    value = os.environ.get("MTTT_NUM_THREADS", "")
    return int(value) if value.isdigit() and int(value) > 0 else os.cpu_count()


def archive(run, threads):
    """Keeps a finished run's metrics with the repository, and how it ran (threads: None when not
    known): matrix products split their sums by thread count, so a row re-run with another count
    differs in its last digits, and after a few hundred steps by up to two points of accuracy."""
    if run["archive"]:
        os.makedirs(os.path.dirname(run["archive"]), exist_ok=True)
        shutil.copyfile(os.path.join(run["out"], "metrics.jsonl"), run["archive"])
        with open(run_info_path(run), "w") as f:
            json.dump({"threads": threads, "finished": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}, f)
            f.write("\n")


def run_info_path(run):
    return run["archive"][: -len(".metrics.jsonl")] + ".run.json"


def run_info(run):
    path = run_info_path(run) if run["archive"] else None
    if path and os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    return {}


def eval_records(run):
    return read_eval_records(metrics_path(run))


def read_eval_records(path):
    if not os.path.exists(path):
        return []
    records = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                record = json.loads(line)
                if record.get("kind") == "eval":
                    records.append(record)
    return records


def state(run):
    records = eval_records(run)
    if finished(records, run):
        return "done"
    if os.path.exists(os.path.join(run["out"], "checkpoint.safetensors")):
        return f"resumable (epoch {max((r['epoch'] for r in records), default=0)} of {run['epochs']})"
    return "not started"


def command(run, mttt, resume):
    cmd = [mttt, "train", "--config", run["config"]]
    if resume:
        cmd += ["--resume", os.path.join(run["out"], "checkpoint.safetensors")]
    else:  # a run killed before its first checkpoint starts again (mttt train refuses its folder otherwise)
        cmd += ["--overwrite"]
    return cmd


def do_run(grid, args):
    only = set(args.only.split(",")) if args.only else None
    unknown = (only or set()) - {r["name"] for r in grid["runs"]}
    if unknown:
        sys.exit(f"--only: unknown runs {sorted(unknown)}")
    if not os.path.exists(args.mttt):
        sys.exit(f"sweep: the mttt program {args.mttt} does not exist: build it (bash tools/quickstart.sh test, "
                 "or ninja -C build tools/cli/mttt) or pass --mttt PATH")
    env = dict(os.environ, OMP_WAIT_POLICY=os.environ.get("OMP_WAIT_POLICY", "PASSIVE"))
    todo = [r for r in grid["runs"] if (only is None or r["name"] in only)]
    for i, run in enumerate(todo, 1):
        s = state(run)
        if s == "done":
            if run["archive"] and not os.path.exists(run["archive"]):
                archive(run, None)  # finished before this sweep: its thread count is not known
            print(f"[{i}/{len(todo)}] {run['name']}: done, skipped", flush=True)
            continue
        resume = s.startswith("resumable")
        cmd = command(run, args.mttt, resume)
        print(f"[{i}/{len(todo)}] {run['name']}: {'resuming' if resume else 'starting'}: {' '.join(cmd)}", flush=True)
        start = time.time()
        result = subprocess.run(cmd, env=env)
        if result.returncode != 0:
            sys.exit(f"{run['name']}: mttt train exited with {result.returncode}; run the sweep again to resume")
        archive(run, threads_used())
        print(f"[{i}/{len(todo)}] {run['name']}: finished in {(time.time() - start) / 60:.1f} min", flush=True)


def do_status(grid, _args):
    for run in grid["runs"]:
        records = eval_records(run)
        accuracy = f"{100 * records[-1]['accuracy']:.2f}%" if records else "-"
        print(f"{run['name']:<36} {state(run):<28} {accuracy}")


def layer_override(cfg):
    return json.dumps(cfg["model"]["layer"], separators=(",", ":"))


def flops_and_params(run, mttt):
    """Relative training FLOPs of the model (mttt flops) and its parameter count (mttt params)."""
    flops = subprocess.run([mttt, "flops", "--config", run["config"]], capture_output=True, text=True)
    params = subprocess.run([mttt, "params", "--config", run["config"]], capture_output=True, text=True)
    relative = total = None
    m = re.search(r"^model\s+[\d.]+\s+([\d.]+)x\s+[\d.]+\s+([\d.]+)x", flops.stdout, re.M)
    if m:
        relative = (float(m.group(1)), float(m.group(2)))
    m = re.search(r"^model\s+([\d,]+)\s", params.stdout, re.M)
    if m:
        total = int(m.group(1).replace(",", ""))
    return relative, total


def do_report(grid, args):
    if not os.path.exists(args.mttt):
        print(f"sweep: no mttt program at {args.mttt}: the parameter and FLOP columns read '-'", file=sys.stderr)
    rows = []
    header = ("| setting | layer | seed | test accuracy | parameters | FLOPs vs linear attention (forward / training) "
              "| s per epoch | threads | command |\n|---|---|---:|---:|---:|---:|---:|---:|---|\n")
    for run in grid["runs"]:
        records = eval_records(run)
        done = finished(records, run)
        relative, total = flops_and_params(run, args.mttt) if os.path.exists(args.mttt) else (None, None)
        seconds = [r.get("train_seconds", 0) for r in records if r.get("train_seconds")]
        accuracy = f"{100 * records[-1]['accuracy']:.2f}%" if done else (
            f"running: {100 * records[-1]['accuracy']:.2f}% after epoch {records[-1]['epoch']}" if records else "pending")
        threads = (run_info(run).get("threads") or "-") if done else "-"
        rows.append("| {} | {} | {} | {} | {} | {} | {} | {} | `mttt train --config {}` |".format(
            run["setting"], run["layer"], run["seed"], accuracy, f"{total:,}" if total else "-",
            f"{relative[0]:.2f}x / {relative[1]:.2f}x" if relative else "-",
            f"{sum(seconds) / len(seconds):.0f}" if seconds else "-", threads, run["config"]))
    table = header + "\n".join(rows) + "\n"
    write_table(args.table, table)
    print(table)
    draw_figures(grid, args.figures)


BEGIN, END = "<!-- sweep table: begin -->", "<!-- sweep table: end -->"


def write_table(path, table):
    """Replaces the block between the markers of an existing document, or writes the table alone."""
    text = open(path).read() if os.path.exists(path) else ""
    if BEGIN in text and END in text:
        text = text[:text.index(BEGIN) + len(BEGIN)] + "\n" + table + text[text.index(END):]
    else:
        text = table
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def draw_figures(grid, folder):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(folder, exist_ok=True)
    # Accuracy against T (the paper's figure 1 left): MTTT-MLP with GD steps, one panel per
    # setting; every seed a dot, their mean the line; linear attention's mean dashed.
    def final_accuracy(run):
        records = eval_records(run)
        return 100 * records[-1]["accuracy"] if finished(records, run) else None

    panels = []
    for setting in ("patches", "pixels"):
        by_steps = {}
        for run in grid["runs"]:
            if run["setting"] == setting and run.get("steps") and not run.get("sgd"):
                accuracy = final_accuracy(run)
                if accuracy is not None:
                    by_steps.setdefault(run["steps"], []).append(accuracy)
        baseline = [a for a in (final_accuracy(r) for r in grid["runs"]
                                if r["setting"] == setting and r["layer"] == "linear attention (identity)") if a is not None]
        if by_steps:
            panels.append((setting, sorted(by_steps.items()), baseline))
    if panels:
        fig, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 3.2), squeeze=False)
        for ax, (setting, steps, baseline) in zip(axes[0], panels):
            ts = [t for t, _ in steps]
            ax.plot(ts, [sum(v) / len(v) for _, v in steps], marker="o", label="MTTT-MLP (mean of seeds)")
            for t, values in steps:
                if len(values) > 1:
                    ax.scatter([t] * len(values), values, color="C0", s=12, alpha=0.6)
            if baseline:
                ax.axhline(sum(baseline) / len(baseline), color="gray", linestyle="--",
                           label=f"linear attention ({len(baseline)} seed{'s' if len(baseline) > 1 else ''})")
            ax.set_xlabel("inner steps T (MTTT-MLP, GD)")
            ax.set_ylabel("test accuracy (%)")
            ax.set_xticks(ts)
            ax.set_title(f"Fashion-MNIST, {'2x2 patches' if setting == 'patches' else 'pixels'}")
            ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(os.path.join(folder, "accuracy_vs_steps.png"), dpi=120)
        plt.close(fig)
    # Inner loss per step t, one curve per epoch, averaged over layers (figures 1 right, 3, 4).
    for run in grid["runs"]:
        records = [r for r in eval_records(run) if r.get("inner_losses")]
        if not records:
            continue
        fig, ax = plt.subplots(figsize=(4.5, 3.2))
        cmap = plt.get_cmap("viridis")
        for k, record in enumerate(records):
            curves = list(record["inner_losses"].values())
            mean = [sum(c[t] for c in curves) / len(curves) for t in range(len(curves[0]))]
            ax.plot(range(len(mean)), mean, marker="o", color=cmap(k / max(1, len(records) - 1)),
                    label=f"epoch {record['epoch']}")
        ax.set_xticks(range(len(mean)))
        ax.set_xlabel("inner step t")
        ax.set_ylabel("inner loss (mean over layers)")
        ax.set_title(f"{run['layer']}, {run['setting']}", fontsize=9)
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(os.path.join(folder, f"inner_loss_{run['name']}.png"), dpi=120)
        plt.close(fig)


def reexec_with_matplotlib():
    """The figures need matplotlib: Debian's python3-matplotlib serves /usr/bin/python3, which a
    python3 earlier on PATH (a virtual environment, pyenv) may not see."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        system = "/usr/bin/python3"
        if os.path.exists(system) and os.path.realpath(sys.executable) != os.path.realpath(system):
            os.execv(system, [system] + sys.argv)
        sys.exit("sweep report: matplotlib is missing (apt-get install python3-matplotlib)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["run", "status", "report"])
    parser.add_argument("--grid", help=f"the grid file (default: the repository's {DEFAULT_GRID})")
    parser.add_argument("--only", default="", help="comma-separated run names (run)")
    parser.add_argument("--mttt", default=DEFAULT_MTTT, help="the mttt program")
    parser.add_argument("--table", default=os.path.join(ROOT, "docs", "experiments.md"),
                        help="document whose marked block receives the table (or a new file with the table alone)")
    parser.add_argument("--figures", default=os.path.join(ROOT, "docs", "figures"))
    args = parser.parse_args()
    if args.action == "report":
        reexec_with_matplotlib()
    args.mttt, args.table, args.figures = (os.path.abspath(p) for p in (args.mttt, args.table, args.figures))
    if args.grid is None:  # the default grid's paths are the repository's
        os.chdir(ROOT)
        args.grid = DEFAULT_GRID
    grid = load_grid(args.grid)
    {"run": do_run, "status": do_status, "report": do_report}[args.action](grid, args)


if __name__ == "__main__":
    main()
