"""Summarises a `gpu_report.sh --quick` run: reads its logs folder (bench_mttt.json, bench_mttt_graphs.json: the ViT
step replayed from a CUDA graph, peer.log from
../shared/gpu/peer_gpu.py, bench_reduce.json, train/metrics.jsonl), writes the JSON report and a Markdown table of
mttt next to PyTorch eager (same GPU, same run) and the XLA reference figures, and prints the table.

    python3 tools/gpu_report_summary.py OUT LOGS MACHINE_JSON STEPS_JSON ELAPSED_SECONDS
"""
import datetime
import json
import os
import sys

# The paper's own JAX code under jit on one H200, 2026-12-04 (../shared/gpu/README.md): XLA needs
# minutes to compile each layer, too long for a quick report, so its figures are quoted.
XLA_LAYER_MS = {"linear_attention": 0.45, "linear_attention_elu": 0.44, "mttt_linear": 0.50, "mttt_mlp_t1": 1.12}
PEER_NAMES = {"linear_attention": "linear_attn", "linear_attention_elu": "linear_attn_elu",
              "mttt_linear": "mttt_linear", "mttt_mlp_t1": "mttt_mlp_t1", "mttt_mlp_t4": "mttt_mlp_t4",
              "mttt_mlp_t4_sgd": "mttt_mlp_t4_sgd", "self_attention": "self_attn"}
# bench_mttt's section, peer_gpu.py's section, the table's title.
SECTIONS = (("layers", "layers", "one layer, B 8, N 196, D 192, H 3, forward + backward, ms"),
            ("layers_s16", "vit_s_layer", "ViT-S/16 layer, B 64, N 196, D 384, H 6, forward + backward, ms"),
            ("vit", "vit", "ViT-Tiny training step (32x32, patch 4, B 32), ms"))
DEMO_TRAIN_IMAGES = 10000  # examples/configs/fashion_mnist_demo.json's data.train_subset


def load_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def load_jsonl(path):
    """The JSON objects among a log's lines (other lines and a truncated last line are skipped)."""
    rows = []
    try:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line.startswith("{"):
                    try:
                        rows.append(json.loads(line))
                    except ValueError:
                        pass
    except OSError:
        pass
    return rows


def fmt_ms(value):
    return "-" if value is None else f"{value:.2f}"


def table(bench, peer, training, reduce=None, graphs=None):
    def peer_ms(section, name):
        for row in peer:
            if row.get("section") == section and row.get("name") == PEER_NAMES.get(name, name):
                return row.get("step_ms")
        return None

    lines = []
    for section, peer_section, title in SECTIONS:
        rows = (bench.get(section) or {}).get("rows", [])
        # The same rows replayed from a CUDA graph (bench_mttt --cuda-graphs), named so.
        rows = rows + [dict(r, graph=True) for r in ((graphs or {}).get(section) or {}).get("rows", [])]
        if not rows:
            continue
        lines += [f"| {title} | mttt | PyTorch eager | XLA (reference) | mttt / PyTorch | launches | host syncs |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
        for row in rows:
            if row.get("reference_only"):
                continue
            step = (row.get("times", {}).get("step") or {}).get("median_s")
            ours = step * 1e3 if step is not None else None
            theirs = peer_ms(peer_section, row["name"])
            xla = XLA_LAYER_MS.get(row["name"]) if section == "layers" else None
            counters = row.get("train_step_counts") or row.get("step_counts") or {}
            ratio = f"{ours / theirs:.2f}x" if ours and theirs else "-"
            label = row["name"] + (" (CUDA graph)" if row.get("graph") else "")
            lines.append(f"| {label} | {fmt_ms(ours)} | {fmt_ms(theirs)} | {fmt_ms(xla)} | {ratio} "
                         f"| {counters.get('kernel_launches', '-')} | {counters.get('host_syncs', '-')} |")
        lines.append("")
    reduce_rows = [r for r in (reduce or {}).get("reduce", {}).get("rows", [])]
    if reduce_rows:
        lines += ["| reduction, float32 | GB/s (warm) | GB/s (cold) |", "|---|---:|---:|"]
        lines += [f"| {r['case']} | {r['warm_gb_per_s']:.0f} | {r['cold_gb_per_s']:.0f} |" for r in reduce_rows]
        lines.append("")
    if training:
        lines.append(f"Demo on the GPU, one epoch: {training['images_per_second']:.0f} images/s, "
                     f"test accuracy {training['accuracy']:.4f}.")
    return "\n".join(lines)


def main(argv):
    out, logs, machine, steps, elapsed = argv[1:6]
    bench = load_json(os.path.join(logs, "bench_mttt.json")) or {}
    peer = load_jsonl(os.path.join(logs, "peer.log"))
    evals = [m for m in load_jsonl(os.path.join(logs, "train", "metrics.jsonl")) if m.get("kind") == "eval"]
    training = None
    if evals and evals[0].get("train_seconds"):
        training = {"accuracy": evals[0]["accuracy"], "train_seconds": evals[0]["train_seconds"],
                    "images_per_second": DEMO_TRAIN_IMAGES / evals[0]["train_seconds"]}
    reduce = load_json(os.path.join(logs, "bench_reduce.json"))
    graphs = load_json(os.path.join(logs, "bench_mttt_graphs.json"))
    markdown = table(bench, peer, training, reduce, graphs)
    report = {"format": "mttt-gpu-report-1", "mode": "quick",
              "date_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
              "elapsed_seconds": int(elapsed), "machine": json.loads(machine), "steps": json.loads(steps),
              "training": training, "benchmarks": {"mttt": bench or None, "mttt_cuda_graphs": graphs, "peer": peer or None,
                             "reduce": reduce},
              "table_markdown": markdown}
    with open(out, "w") as f:
        json.dump(report, f, indent=2)
    table_path = os.path.splitext(out)[0] + ".md"
    with open(table_path, "w") as f:
        f.write(markdown + "\n")
    print(markdown)
    print(f"report written to {out} (and {table_path}), logs in {logs}")


if __name__ == "__main__":
    main(sys.argv)
