#!/usr/bin/env python3
"""The quick start's measured figures in README.md, from a record of the run that measured them.

    python3 tools/readme_figures.py measure [--no-run]   run and time the main job, record, rewrite README
    python3 tools/readme_figures.py write                rewrite README's block from the record
    python3 tools/readme_figures.py check                exit 1 unless README's block is the record's

The record is docs/figures/quickstart.json: when, on what and with which command the figures were
taken, the main job's wall time, and for each of its training runs the final test accuracy and
the training seconds (from the run's metrics.jsonl: the last evaluation record's accuracy, the sum
of the evaluation records' train_seconds). `measure` runs `bash tools/quickstart.sh main` (on an
otherwise idle machine: the figures are timings) and reads the runs it wrote; `--no-run` reads the
run folders already there and leaves the main job's time unknown. README.md holds the figures
between the markers below, in words this script writes, so that no figure there is typed by hand.
A figure the record does not have (null) is left out of the sentence.
"""
import argparse
import datetime
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RECORD = os.path.join("docs", "figures", "quickstart.json")
README = "README.md"
BEGIN, END = "<!-- quickstart figures: begin -->", "<!-- quickstart figures: end -->"
MAIN_JOB = "bash tools/quickstart.sh main"
# The main job's training runs (tools/quickstart.sh) and what they are.
RUNS = {
    "demo": {"run": "runs/fashion_mnist_demo", "config": "examples/configs/fashion_mnist_demo.json"},
    "linear_attention": {"run": "runs/fashion_mnist_compare/linear_attention",
                         "config": "examples/configs/fashion_mnist_compare.json"},
    "mttt_mlp": {"run": "runs/fashion_mnist_compare/mttt_mlp", "config": "examples/configs/fashion_mnist_compare.json"},
}
RECORD_KEYS = ("date", "commit", "machine", "command", "source", "main_job_seconds", "runs")
RUN_KEYS = ("run", "config", "epochs", "accuracy", "train_seconds")


def fail(message):
    sys.exit(f"readme_figures: {message}")


def read_run(folder):
    """A run's figures from its metrics.jsonl: epochs evaluated, final accuracy, training seconds."""
    path = os.path.join(folder, "metrics.jsonl")
    if not os.path.isfile(path):
        fail(f"{path} does not exist: run the main job first ({MAIN_JOB})")
    evals = []
    with open(path) as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                fail(f"{path}:{number} is not JSON: {e}")
            if record.get("kind") == "eval":
                evals.append(record)
    if not evals:
        fail(f"{path} has no evaluation record: the run did not finish an epoch")
    for record in evals:
        if not isinstance(record.get("accuracy"), (int, float)) or not isinstance(record.get("train_seconds"), (int, float)):
            fail(f"{path}: an evaluation record without accuracy or train_seconds (epoch {record.get('epoch')})")
    return {"epochs": len(evals), "accuracy": evals[-1]["accuracy"],
            "train_seconds": round(sum(r["train_seconds"] for r in evals), 1)}


def validate(record, where):
    """Holds a record to its shape: every key present, figures numbers in range or null."""
    if not isinstance(record, dict):
        fail(f"{where}: expected a JSON object")
    missing = [k for k in RECORD_KEYS if k not in record]
    if missing:
        fail(f"{where}: missing {', '.join(missing)}")
    try:
        datetime.date.fromisoformat(record["date"])
    except (TypeError, ValueError):
        fail(f"{where}: date {record['date']!r} is not YYYY-MM-DD")
    for key in ("commit", "machine", "command", "source"):
        if not isinstance(record[key], str) or not record[key]:
            fail(f"{where}: {key} must be a non-empty string")
    seconds = record["main_job_seconds"]
    if seconds is not None and (not isinstance(seconds, (int, float)) or seconds <= 0):
        fail(f"{where}: main_job_seconds must be a positive number or null")
    if not isinstance(record["runs"], dict) or sorted(record["runs"]) != sorted(RUNS):
        fail(f"{where}: runs must be exactly {', '.join(RUNS)}")
    for name, run in record["runs"].items():
        missing = [k for k in RUN_KEYS if k not in run]
        if missing:
            fail(f"{where}: run {name} lacks {', '.join(missing)}")
        if run["run"] != RUNS[name]["run"] or run["config"] != RUNS[name]["config"]:
            fail(f"{where}: run {name} is {RUNS[name]['run']} of {RUNS[name]['config']}")
        if not isinstance(run["epochs"], int) or run["epochs"] < 1:
            fail(f"{where}: run {name}: epochs must be a positive integer")
        if run["accuracy"] is not None and not (isinstance(run["accuracy"], (int, float)) and 0 <= run["accuracy"] <= 1):
            fail(f"{where}: run {name}: accuracy must be in [0, 1] or null")
        if run["train_seconds"] is not None and not (
                isinstance(run["train_seconds"], (int, float)) and run["train_seconds"] > 0):
            fail(f"{where}: run {name}: train_seconds must be positive or null")
    return record


def render(record):
    """The README block's text, from a validated record."""
    runs = record["runs"]

    def percent(run):
        return f"{100 * run['accuracy']:.1f}%"

    def per_epoch(run):
        return f"{run['train_seconds'] / run['epochs']:.0f}"

    parts = []
    if record["main_job_seconds"] is not None:
        parts.append(f"the main job took {record['main_job_seconds'] / 60:.1f} minutes once built")
    demo = runs["demo"]
    demo_words = []
    if demo["accuracy"] is not None:
        demo_words.append(f"reached {percent(demo)} after {demo['epochs']} epochs")
    if demo["train_seconds"] is not None:
        demo_words.append(f"trained in {demo['train_seconds']:.0f} s")
    if demo_words:
        parts.append("the self-attention ViT " + " and ".join(demo_words))
    compared = []
    for name, title in (("linear_attention", "linear attention"), ("mttt_mlp", "MTTT-MLP")):
        run = runs[name]
        words = [w for w in (percent(run) if run["accuracy"] is not None else None,
                             f"{per_epoch(run)} s an epoch" if run["train_seconds"] is not None else None) if w]
        if words:
            compared.append(f"{title} {', '.join(words)}")
    if compared:
        parts.append(f"after {runs['mttt_mlp']['epochs']} epochs on 2x2 patches, " + "; ".join(compared))
    figures = "; ".join(parts) if parts else "no figures recorded"
    return (f"Measured {record['date']} (commit {record['commit']}; {record['machine']}), `{record['command']}`: "
            f"{figures}. The record: `{RECORD}` ({record['source']}); `python3 tools/readme_figures.py measure` "
            f"reruns the main job and rewrites the record and this paragraph.")


def wrap(text, width=100):
    lines, line = [], ""
    for word in text.split(" "):
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return "\n".join(lines + [line])


def block(record):
    return f"{BEGIN}\n{wrap(render(record))}\n{END}"


def load_record(path):
    if not os.path.isfile(path):
        fail(f"{path} does not exist")
    with open(path) as f:
        try:
            return validate(json.load(f), path)
        except json.JSONDecodeError as e:
            fail(f"{path} is not JSON: {e}")


def readme_block(text, where):
    """The README's marked block; exactly one pair of markers, in order."""
    if text.count(BEGIN) != 1 or text.count(END) != 1 or text.index(BEGIN) > text.index(END):
        fail(f"{where} needs exactly one '{BEGIN}' followed by one '{END}'")
    return text[text.index(BEGIN):text.index(END) + len(END)]


def write_readme(readme, record):
    with open(readme) as f:
        text = f.read()
    old = readme_block(text, readme)
    with open(readme + ".tmp", "w") as f:
        f.write(text.replace(old, block(record)))
    os.replace(readme + ".tmp", readme)


def check(readme, record_path):
    """Returns the problems (empty: README's block is the record's)."""
    record = load_record(record_path)
    with open(readme) as f:
        current = readme_block(f.read(), readme)
    if current != block(record):
        return [f"{readme}'s quickstart block differs from {record_path}: run python3 tools/readme_figures.py write\n"
                f"--- README:\n{current}\n--- from the record:\n{block(record)}"]
    return []


def machine(with_load):
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), model)
    except OSError:
        pass
    load = f", load average {os.getloadavg()[0]:.1f} at the start" if with_load else ""
    return f"{os.cpu_count()} cores, {model}{load}"


def commit():
    def git(*args):
        return subprocess.run(["git", *args], capture_output=True, text=True, cwd=ROOT).stdout.strip()
    head = git("rev-parse", "--short", "HEAD") or "unknown"
    return head + ("+changes" if git("status", "--porcelain", "--untracked-files=no") else "")


def measure(no_run):
    started = machine(with_load=not no_run)
    seconds = None
    if not no_run:
        start = time.monotonic()
        result = subprocess.run(["bash", "tools/quickstart.sh", "main"])
        if result.returncode != 0:
            fail(f"{MAIN_JOB} exited with {result.returncode}; nothing recorded")
        seconds = round(time.monotonic() - start, 1)
    record = {
        "date": datetime.datetime.now(datetime.timezone.utc).date().isoformat(),
        "commit": commit(),
        "machine": started,
        "command": MAIN_JOB,
        "source": "python3 tools/readme_figures.py measure" + (
            " --no-run: the runs already in runs/, the main job not timed" if no_run else ""),
        "main_job_seconds": seconds,
        "runs": {name: dict(paths, **read_run(paths["run"])) for name, paths in RUNS.items()},
    }
    validate(record, "the measured record")
    os.makedirs(os.path.dirname(RECORD), exist_ok=True)
    with open(RECORD + ".tmp", "w") as f:
        json.dump(record, f, indent=2)
        f.write("\n")
    os.replace(RECORD + ".tmp", RECORD)
    write_readme(README, record)
    print(block(record))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["measure", "write", "check"])
    parser.add_argument("--no-run", action="store_true", help="measure: read the runs already in runs/")
    args = parser.parse_args()
    os.chdir(ROOT)
    if args.action == "measure":
        measure(args.no_run)
    elif args.action == "write":
        write_readme(README, load_record(RECORD))
    else:
        problems = check(README, RECORD)
        for problem in problems:
            print(problem, file=sys.stderr)
        sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
