#!/usr/bin/env python3
"""The pre-training recipe study (docs/science.md): run `lenspipe train` with a recipe, judge the
checkpoint with `lenspipe eval` on a validation split, and append one JSON line per run.

    scripts/recipe_study.py run NAME --data m2 --minutes 10 --recipe '{"loss": {"view": 0, "region": 1}}' \\
        --runs study/ [--score val] [--lenspipe .build/release/lenspipe]
    scripts/recipe_study.py table study/results.jsonl     # the markdown table docs/science.md holds

`run` writes STUDY/NAME/ (the run folder, the recipe file, eval/) and appends to STUDY/results.jsonl:
the recipe diff, the budget, the steps, the final per-head teacher entropies over log K, the feature
standard deviation, whether the collapse warning fired, the k-NN curve of `train`'s monitor, and the
eval rows (trained, random init, raw pixels) on the scored split. A failed command is recorded too
(`"error"`), so every run, including the failures, is in the file.

Selection uses `--score val` (DATA/val); report test once with `--score test --test-split PATH`.
"""
import argparse
import json
import os
import subprocess
import sys
import time


def last_step_line(metrics):
    steps = [m for m in metrics if "loss" in m]
    return steps[-1] if steps else {}


def read_jsonl(path):
    out = []
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line:
                    out.append(json.loads(line))
    return out


def run(args):
    folder = os.path.join(args.runs, args.name)
    os.makedirs(args.runs, exist_ok=True)
    recipe = json.loads(args.recipe) if args.recipe else {}
    recipe_path = os.path.join(args.runs, args.name + ".recipe.json")
    with open(recipe_path, "w") as f:
        json.dump(recipe, f, indent=1)
    score_split = args.test_split or os.path.join(args.data, args.score)
    record = {"name": args.name, "data": args.data, "recipe": recipe, "minutes": args.minutes,
              "scored_on": score_split, "started": time.strftime("%Y-%m-%dT%H:%M:%S")}
    # --epochs fixes the step count (results that do not depend on what else the machine runs);
    # --minutes fits it to the wall clock, as users run it.
    budget = ["--epochs", str(args.epochs)] if args.epochs else ["--minutes", str(args.minutes)]
    if args.epochs:
        record["epochs_budget"] = args.epochs
    train_cmd = [args.lenspipe, "train", args.data, "-o", folder, *budget,
                 "--recipe", recipe_path, "--quiet", "--threads", str(args.threads)]
    if os.path.exists(folder) and not args.reuse:
        sys.exit(f"{folder} exists; pick a new name or pass --reuse to evaluate it again")
    eval_dir = os.path.join(folder, "eval-" + args.score)
    eval_cmd = [args.lenspipe, "eval", os.path.join(folder, "final.safetensors"),
                "--train", os.path.join(args.data, "train"), "--test", score_split, "-o", eval_dir,
                "--quiet", "--threads", str(args.threads)] + (["--no-baselines"] if args.no_baselines else [])
    record["commands"] = [" ".join(train_cmd), " ".join(eval_cmd)]
    try:
        t0 = time.time()
        if not os.path.exists(os.path.join(folder, "final.safetensors")):
            subprocess.run(train_cmd, check=True)
        record["train_seconds"] = round(time.time() - t0, 1)
        t0 = time.time()
        subprocess.run(eval_cmd, check=True, stdout=subprocess.DEVNULL)
        record["eval_seconds"] = round(time.time() - t0, 1)
    except subprocess.CalledProcessError as e:
        record["error"] = f"{' '.join(e.cmd[:2])} exited {e.returncode}"
    metrics = read_jsonl(os.path.join(folder, "metrics.jsonl"))
    last = last_step_line(metrics)
    if last:
        log_k = last.get("log_k", 1.0)
        record.update({
            "steps": last.get("step"),
            "epoch": round(last.get("epoch", 0), 2),
            "view_entropy_share": round(last["teacher_entropy_view"] / log_k, 3),
            "region_entropy_share": round(last["teacher_entropy_region"] / log_k, 3),
            "view_mean_entropy_share": round(last["teacher_entropy_view_mean"] / log_k, 3),
            "region_mean_entropy_share": round(last["teacher_entropy_region_mean"] / log_k, 3),
            "feature_std": round(last.get("feature_std", float("nan")), 4),
            "effective_rank": round(last.get("effective_rank", float("nan")), 1),
            "images_per_s": round(last.get("images_per_s", 0), 1),
        })
    collapses = [m["collapse"] for m in metrics if "collapse" in m]
    record["collapse"] = collapses[0] if collapses else None
    record["knn_curve"] = [[m["step"], round(m.get("elapsed_s", 0), 1), m["knn_accuracy"]] for m in metrics if "knn_accuracy" in m]
    # [step, seconds, centred k-NN] (monitors written since the centred k-NN exists).
    record["knn_centred_curve"] = [[m["step"], round(m.get("elapsed_s", 0), 1), m["knn_centred_accuracy"]]
                                   for m in metrics if "knn_centred_accuracy" in m]
    # [step, seconds, probe accuracy, probe macro AUC] (monitors written since the probe monitor exists).
    record["probe_curve"] = [[m["step"], round(m.get("elapsed_s", 0), 1), m["probe_accuracy"], m.get("probe_auc")]
                             for m in metrics if "probe_accuracy" in m]
    report_path = os.path.join(eval_dir, "report.json")
    if os.path.exists(report_path):
        with open(report_path) as f:
            report = json.load(f)
        record["eval"] = {row["features"]: {"knn_acc": round(row["knn_accuracy"], 4), "knn_auc": round(row["knn_macro_auc"], 4),
                                            "probe_acc": round(row["probe_accuracy"], 4), "probe_auc": round(row["probe_macro_auc"], 4),
                                            **({"knn_c_acc": round(row["knn_centred_accuracy"], 4), "knn_c_auc": round(row["knn_centred_macro_auc"], 4)}
                                               if "knn_centred_accuracy" in row else {})}
                          for row in report["rows"]}
    with open(os.path.join(args.runs, "results.jsonl"), "a") as f:
        f.write(json.dumps(record) + "\n")
    print(json.dumps(record))


def fmt(x, digits=3):
    return "-" if x is None else f"{x:.{digits}f}"


def table(args):
    rows = read_jsonl(args.results)
    print("| run | recipe diff | min | steps | scored on | k-NN acc / AUC | centred k-NN acc | probe acc / macro AUC | random init k-NN / probe AUC | raw pixels k-NN / probe AUC | entropy / log K (view, region) | feature std | collapse warning |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    baselines = {}
    for r in rows:
        ev = r.get("eval", {})
        trained = next((v for k, v in ev.items() if k not in ("random init", "raw pixels")), {})
        # Runs evaluated without baselines take those of an earlier run on the same data and model shape.
        if "random init" in ev:
            baselines[(r["data"], r["scored_on"], json.dumps(r["recipe"].get("model", {})))] = ev
        ev = baselines.get((r["data"], r["scored_on"], json.dumps(r["recipe"].get("model", {}))), ev)
        rnd, raw = ev.get("random init", {}), ev.get("raw pixels", {})
        diff = json.dumps(r["recipe"], separators=(",", ":")) if r["recipe"] else "defaults"
        if r.get("error"):
            diff += f" (failed: {r['error']})"
        scored = os.path.basename(r["scored_on"].rstrip("/"))
        print(f"| {r['name']} | `{diff}` | {r['minutes']} | {r.get('steps', '-')} | {scored} | "
              f"{fmt(trained.get('knn_acc'))} / {fmt(trained.get('knn_auc'))} | {fmt(trained.get('knn_c_acc'))} | "
              f"{fmt(trained.get('probe_acc'))} / {fmt(trained.get('probe_auc'))} | "
              f"{fmt(rnd.get('knn_acc'))} / {fmt(rnd.get('probe_auc'))} | {fmt(raw.get('knn_acc'))} / {fmt(raw.get('probe_auc'))} | "
              f"{fmt(r.get('view_entropy_share'), 2)}, {fmt(r.get('region_entropy_share'), 2)} | {fmt(r.get('feature_std'), 3)} | "
              f"{'yes' if r.get('collapse') else 'no'} |")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="train, evaluate, append a result line")
    r.add_argument("name")
    r.add_argument("--data", required=True, help="a lenspipe output with train/ and val/")
    r.add_argument("--minutes", type=float, default=10)
    r.add_argument("--epochs", type=float, default=0, help="a fixed number of passes instead of --minutes (14 is what 10 minutes gave on a quiet machine)")
    r.add_argument("--recipe", default="", help="recipe JSON (only what differs from the defaults)")
    r.add_argument("--runs", default="study")
    r.add_argument("--score", default="val", help="the split of DATA to score on (val while choosing)")
    r.add_argument("--test-split", default="", help="score on this split folder instead (the final test, once)")
    r.add_argument("--threads", type=int, default=2)
    r.add_argument("--no-baselines", action="store_true", help="skip eval's random-init and raw-pixel rows (they depend only on the data and the model shape)")
    r.add_argument("--reuse", action="store_true", help="evaluate an existing run folder again")
    r.add_argument("--lenspipe", default=os.environ.get("LENSPIPE", ".build/release/lenspipe"))
    t = sub.add_parser("table", help="print the markdown table of a results file")
    t.add_argument("results")
    args = p.parse_args()
    run(args) if args.cmd == "run" else table(args)


if __name__ == "__main__":
    main()
