#!/usr/bin/env python3
"""Label efficiency: a pre-trained checkpoint against the same network from scratch, fine-tuned with
few labels, at several label fractions and seeds (the curve users ask for: what pre-training saves).

    scripts/label_efficiency.py run CKPT SHARDS -o DIR [--fractions 0.01,0.1] [--seeds 0,1] [--minutes 5]
    scripts/label_efficiency.py plot DIR          # DIR/label_efficiency.png and the summary again

Every cell runs `lenspipe finetune CKPT SHARDS --task classify --label-fraction F --minutes M --seed S`,
once from the checkpoint and once with `--from-scratch` (same budget, same seed, so the same labelled
subset and order), and appends one JSON line per fine-tune to DIR/results.jsonl (failures too, with
`"error"`). A cell already in the file is not run again, so an interrupted run resumes. The summary
(JSON, printed) gives per fraction the mean test accuracy and macro AUC of each start with their
min/max over seeds and the pre-trained minus scratch gaps; DIR/label_efficiency.png draws macro AUC
and accuracy against the label fraction, one line per start, the spread over seeds shaded.
Model selection uses SHARDS/val; the score is SHARDS/test (`lenspipe finetune` documents both).
"""
import argparse
import json
import os
import subprocess
import sys
import time


def read_jsonl(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def cell_dir(out, start, fraction, seed):
    return os.path.join(out, f"{start}-f{fraction:g}-s{seed}")


def run(args):
    os.makedirs(args.output, exist_ok=True)
    results_path = os.path.join(args.output, "results.jsonl")
    done = {(r["start"], r["fraction"], r["seed"]) for r in read_jsonl(results_path) if "error" not in r}
    fractions = [float(x) for x in args.fractions.split(",")]
    seeds = [int(x) for x in args.seeds.split(",")]
    for fraction in fractions:
        for seed in seeds:
            for start in ("pretrained", "scratch"):
                if (start, fraction, seed) in done:
                    continue
                folder = cell_dir(args.output, start, fraction, seed)
                cmd = [args.lenspipe, "finetune", args.checkpoint, args.shards, "--task", "classify", "--label-fraction", str(fraction),
                       "--minutes", str(args.minutes), "--seed", str(seed), "-o", folder, "--quiet", "--threads", str(args.threads)]
                if start == "scratch":
                    cmd.append("--from-scratch")
                t0 = time.time()
                print(f"[{time.strftime('%H:%M:%S')}] {start} fraction {fraction:g} seed {seed}", file=sys.stderr, flush=True)
                proc = subprocess.run(cmd, capture_output=True, text=True)
                record = {"start": start, "fraction": fraction, "seed": seed, "minutes": args.minutes, "checkpoint": args.checkpoint,
                          "shards": args.shards, "command": " ".join(cmd), "seconds": round(time.time() - t0, 1)}
                report_path = os.path.join(folder, "report.json")
                if proc.returncode != 0 or not os.path.exists(report_path):
                    record["error"] = (proc.stderr or proc.stdout).strip()[-2000:]
                else:
                    with open(report_path) as f:
                        report = json.load(f)
                    record.update({"accuracy": report["test"].get("accuracy"), "macro_auc": report["test"].get("macro_auc"),
                                   "val_accuracy": report["val"].get("accuracy"), "train_images": report["train_images"],
                                   "val_images": report["val_images"], "test_images": report["test_images"], "steps": report["steps"],
                                   "best_step": report["best_step"]})
                with open(results_path, "a") as f:
                    f.write(json.dumps(record) + "\n")
                print(json.dumps(record), file=sys.stderr, flush=True)
    plot(args)


def summarize(rows):
    out = []
    for fraction in sorted({r["fraction"] for r in rows}):
        entry = {"fraction": fraction}
        for start in ("pretrained", "scratch"):
            cell = [r for r in rows if r["fraction"] == fraction and r["start"] == start]
            if not cell:
                continue
            for key in ("accuracy", "macro_auc"):
                vals = [r[key] for r in cell if r.get(key) is not None]
                if vals:
                    entry[f"{start}_{key}"] = sum(vals) / len(vals)
                    entry[f"{start}_{key}_range"] = [min(vals), max(vals)]
            entry[f"{start}_seeds"] = sorted(r["seed"] for r in cell)
            entry["train_images"] = cell[0].get("train_images")
        for key in ("accuracy", "macro_auc"):
            if f"pretrained_{key}" in entry and f"scratch_{key}" in entry:
                entry[f"gain_{key}"] = entry[f"pretrained_{key}"] - entry[f"scratch_{key}"]
        out.append(entry)
    return out


def plot(args):
    rows = [r for r in read_jsonl(os.path.join(args.output, "results.jsonl")) if "error" not in r]
    summary = summarize(rows)
    print(json.dumps({"results": os.path.join(args.output, "results.jsonl"), "summary": summary}, indent=1))
    if not summary:
        return
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key, label in ((axes[0], "macro_auc", "test macro ROC AUC"), (axes[1], "accuracy", "test accuracy")):
        for start, colour in (("pretrained", "tab:blue"), ("scratch", "tab:orange")):
            pts = [s for s in summary if f"{start}_{key}" in s]
            if not pts:
                continue
            xs = [s["fraction"] for s in pts]
            ax.plot(xs, [s[f"{start}_{key}"] for s in pts], "o-", color=colour, label="pre-trained" if start == "pretrained" else "from scratch")
            ax.fill_between(xs, [s[f"{start}_{key}_range"][0] for s in pts], [s[f"{start}_{key}_range"][1] for s in pts], color=colour, alpha=0.2)
            for s in pts:
                ax.annotate(f"{s[f'{start}_{key}']:.3f}", (s["fraction"], s[f"{start}_{key}"]), textcoords="offset points",
                            xytext=(4, 6 if start == "pretrained" else -12), fontsize=8, color=colour)
        ax.set_xscale("log")
        ax.set_xlabel("label fraction of the train split")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle("Fine-tuning with few labels: pre-trained vs from scratch (mean, spread over seeds)")
    fig.tight_layout()
    fig.savefig(os.path.join(args.output, "label_efficiency.png"), dpi=110)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="fine-tune from the checkpoint and from scratch at each fraction and seed")
    r.add_argument("checkpoint")
    r.add_argument("shards", help="a lenspipe output with train/, val/ and test/")
    r.add_argument("-o", "--output", required=True)
    r.add_argument("--fractions", default="0.01,0.1")
    r.add_argument("--seeds", default="0,1")
    r.add_argument("--minutes", type=float, default=5)
    r.add_argument("--threads", type=int, default=2)
    r.add_argument("--lenspipe", default=os.environ.get("LENSPIPE", ".build/release/lenspipe"))
    q = sub.add_parser("plot", help="redraw the figure and print the summary")
    q.add_argument("output")
    args = p.parse_args()
    run(args) if args.cmd == "run" else plot(args)


if __name__ == "__main__":
    main()
