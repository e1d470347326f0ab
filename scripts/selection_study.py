#!/usr/bin/env python3
"""Model selection with few labels: what each --select rule would have kept, scored on test.

Reads a `lenspipe finetune --curve ... --trace-test` folder (cells `pretrained-f<F>-s<S>` and
`scratch-f<F>-s<S>`, each with a metrics.jsonl holding `val` and `test_trace` lines at every
validation pass) and prints, per rule (accuracy, loss, last) and label fraction, each seed's test
accuracy / macro AUC for both starts and the gain of pre-training over scratch, then the means.
One JSON line per (rule, fraction) with --jsonl.

    python3 scripts/selection_study.py CURVE_FOLDER [--jsonl OUT.jsonl] [--name ROW]
"""
import argparse, glob, json, os, re, sys


def passes(folder):
    lines = [json.loads(l) for l in open(os.path.join(folder, "metrics.jsonl")) if l.strip()]
    val = {l["step"]: l for l in lines if l.get("split") == "val"}
    test = {l["step"]: l for l in lines if l.get("split") == "test_trace"}
    if not test:
        sys.exit(f"{folder}/metrics.jsonl: no test_trace lines (fine-tune with --trace-test)")
    return [(s, val[s], test[s]) for s in sorted(val) if s in test]


def kept(ps, rule):
    """The pass lenspipe keeps: FineTuneReport.Scores.better(than:by:), earliest pass on a full tie."""
    best = ps[0]
    for p in ps[1:]:
        a, b = p[1]["val_accuracy"], best[1]["val_accuracy"]
        l, m = p[1]["val_loss"], best[1]["val_loss"]
        if rule == "last" or (rule == "accuracy" and (a > b or (a == b and l < m))) or (rule == "loss" and l < m):
            best = p
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder")
    ap.add_argument("--jsonl", help="append one JSON line per rule and fraction")
    ap.add_argument("--name", default="", help="a row name for the JSON lines")
    args = ap.parse_args()
    cells = {}
    for d in sorted(glob.glob(os.path.join(args.folder, "*-f*-s*"))):
        m = re.fullmatch(r"(pretrained|scratch)-f([0-9.e-]+)-s(\d+)", os.path.basename(d))
        if m and os.path.exists(os.path.join(d, "report.json")):  # finished cells only
            cells[(m[1], float(m[2]), int(m[3]))] = passes(d)
    if not cells:
        sys.exit(f"{args.folder}: no finished cells")
    for rule in ["accuracy", "loss", "last"]:
        for f in sorted({k[1] for k in cells}):
            seeds = sorted({k[2] for k in cells if k[1] == f and ("pretrained", f, k[2]) in cells and ("scratch", f, k[2]) in cells})
            rows = []
            for s in seeds:
                p, q = kept(cells[("pretrained", f, s)], rule), kept(cells[("scratch", f, s)], rule)
                rows.append({"seed": s, "pretrained": [p[2]["test_trace_accuracy"], p[2]["test_trace_macro_auc"]], "pretrained_step": p[0],
                             "scratch": [q[2]["test_trace_accuracy"], q[2]["test_trace_macro_auc"]], "scratch_step": q[0]})
            if not rows:
                continue
            gain = [sum(r["pretrained"][i] - r["scratch"][i] for r in rows) / len(rows) for i in (0, 1)]
            print(f"select {rule:8s} fraction {f:g}: " + "  ".join(
                f"s{r['seed']} {r['pretrained'][0]:.3f}/{r['pretrained'][1]:.3f} vs {r['scratch'][0]:.3f}/{r['scratch'][1]:.3f}" for r in rows)
                  + f"  mean gain {gain[0]:+.3f} / {gain[1]:+.3f}")
            if args.jsonl:
                with open(args.jsonl, "a") as out:
                    out.write(json.dumps({"row": args.name, "select": rule, "fraction": f, "seeds": rows,
                                          "mean_gain_accuracy": gain[0], "mean_gain_macro_auc": gain[1]}) + "\n")


if __name__ == "__main__":
    main()
