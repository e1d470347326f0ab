"""Frozen-feature evaluation of a lenspipe checkpoint in PyTorch, on many processes: k-NN and a linear
probe trained with DistributedDataParallel, reading lenspipe's shards with MosaicML Streaming.

    torchrun --nproc_per_node 2 probe_ddp.py run/final.safetensors --train out/train --test out/test \\
        [--remote-train s3://bucket/out/train --remote-test s3://bucket/out/test] [--compare run/eval/report.json]

What each rank does:
1. `StreamingDataset` gives it its share of each split (local folder, or a `remote=` object-store URL
   that Streaming downloads into `local`); the frozen teacher (esvit_model.py) turns images into
   the final pooled feature (the k-NN's) and EsViT's linear-probe features (the last --probe-blocks
   blocks' pooled outputs side by side, as `lenspipe eval`'s probe reads); `all_gather` gives every
   rank the whole split (deduplicated by id, since Streaming pads the last partition).
2. k-NN as `lenspipe eval` does it (DINO's eval_knn.py): cosine on L2-normalised features, k = 20,
   votes weighted by exp(similarity / 0.07). Computed identically on every rank.
3. Linear probe: features standardised with the train mean and std; one `nn.Linear` wrapped in DDP,
   each rank training full-batch on its shard of train rows; DDP averages the gradients, so the ranks
   minimise the same objective as one process would: mean cross-entropy + ||W||^2 / (2 C N), the
   scikit-learn / lenspipe form of L2-regularised logistic regression. C is lenspipe's chosen C when
   --compare gives its report, else --C.
4. Rank 0 prints one JSON line; with --compare it also prints lenspipe's numbers beside them and exits
   non-zero when they differ by more than --tolerance.

Backend: gloo on CPU, nccl when CUDA is available (one GPU per rank). Needs torch, numpy and
mosaicml-streaming; the model comes from esvit_model.py beside this file.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from esvit_model import load_checkpoint  # noqa: E402


def features_of_split(model, local, remote, device, batch, rank, world, blocks):
    """(ids, k-NN features [N, D], probe features [N, D'], labels [N]) of a whole split, the same on every rank."""
    from streaming import StreamingDataset
    from torch.utils.data import DataLoader
    ds = StreamingDataset(local=local, remote=remote, shuffle=False, batch_size=batch)
    ids, feats, probe_feats, labels = [], [], [], []
    with torch.no_grad():
        for b in DataLoader(ds, batch_size=batch, num_workers=0):
            x = b["image"].to(device=device, dtype=torch.float32)
            probe_feats.append(model.forward_return_n_last_blocks(x, blocks).cpu())  # runs the backbone: model.pooled is set
            feats.append(model.pooled.cpu())
            labels += [int(v) for v in b["label"]]
            ids += list(b["id"])
    mine = (ids, torch.cat(feats).numpy() if feats else np.zeros((0, 0), np.float32),
            torch.cat(probe_feats).numpy() if probe_feats else np.zeros((0, 0), np.float32), labels)
    every = [None] * world
    dist.all_gather_object(every, mine)
    seen, out_ids, out_f, out_p, out_y = set(), [], [], [], []
    for r_ids, r_f, r_p, r_y in every:
        for i, sid in enumerate(r_ids):
            if sid not in seen:
                seen.add(sid)
                out_ids.append(sid)
                out_f.append(r_f[i])
                out_p.append(r_p[i])
                out_y.append(r_y[i])
    order = np.argsort(out_ids, kind="stable")  # a rank-count-independent order
    return [out_ids[i] for i in order], np.stack(out_f)[order], np.stack(out_p)[order], np.asarray(out_y)[order]


def knn_accuracy(train_f, train_y, test_f, test_y, classes, k=20, temperature=0.07):
    a = F.normalize(torch.from_numpy(train_f), dim=1)
    b = F.normalize(torch.from_numpy(test_f), dim=1)
    sim = b @ a.T
    top, idx = sim.topk(min(k, a.shape[0]), dim=1)
    weights = (top / temperature).exp()
    votes = torch.zeros(b.shape[0], classes).scatter_add_(1, torch.from_numpy(train_y)[idx], weights)
    return float((votes.argmax(1).numpy() == test_y).mean())


def train_probe(train_f, train_y, classes, C, rank, world, device, steps, lr):
    """DDP-trained multinomial logistic regression on standardised features; returns (model, mean, std)."""
    mean, std = train_f.mean(0), train_f.std(0) + 1e-8
    x_all = torch.from_numpy((train_f - mean) / std).float()
    y_all = torch.from_numpy(train_y).long()
    n = x_all.shape[0]
    part = slice(rank * n // world, (rank + 1) * n // world)  # equal shares: DDP's gradient mean is the global one
    x, y = x_all[part].to(device), y_all[part].to(device)
    torch.manual_seed(0)
    probe = nn.Linear(x.shape[1], classes).to(device)
    nn.init.zeros_(probe.weight)
    nn.init.zeros_(probe.bias)
    ddp = DistributedDataParallel(probe, device_ids=[device.index] if device.type == "cuda" else None)
    opt = torch.optim.Adam(ddp.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    for _ in range(steps):
        opt.zero_grad()
        loss = F.cross_entropy(ddp(x), y) + (probe.weight ** 2).sum() / (2 * C * n)
        loss.backward()
        opt.step()
        sched.step()
    return probe, mean, std


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint")
    p.add_argument("--train", required=True, help="local folder of the train split's shards (the cache when --remote-train is set)")
    p.add_argument("--test", required=True)
    p.add_argument("--remote-train", default=None, help="object-store URL of the train split (s3://, gs://, ...)")
    p.add_argument("--remote-test", default=None)
    p.add_argument("--network", default="teacher", choices=["teacher", "student"])
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--C", type=float, default=1.0, help="inverse L2 strength when --compare is not given")
    p.add_argument("--steps", type=int, default=500, help="full-batch Adam steps of the probe")
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--probe-blocks", type=int, default=None,
                   help="blocks whose pooled outputs the probe reads (default: the report's probe_blocks with --compare, else 4 or all)")
    p.add_argument("--compare", default=None, help="lenspipe eval's report.json for the same checkpoint and splits")
    p.add_argument("--tolerance", type=float, default=0.02, help="largest accuracy difference accepted by --compare")
    args = p.parse_args()

    cuda = torch.cuda.is_available()
    dist.init_process_group("nccl" if cuda else "gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0))) if cuda else torch.device("cpu")
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // int(os.environ.get("LOCAL_WORLD_SIZE", world))))
    model, config, meta = load_checkpoint(args.checkpoint, args.network)
    model.to(device)
    reference = json.load(open(args.compare)) if args.compare else None
    row = reference["rows"][0] if reference else None
    C = row["probe_c"] if row else args.C
    blocks = args.probe_blocks or (reference.get("probe_blocks") if reference else None) or min(4, sum(config["depths"]))

    train_ids, train_f, train_p, train_y = features_of_split(model, args.train, args.remote_train, device, args.batch, rank, world, blocks)
    test_ids, test_f, test_p, test_y = features_of_split(model, args.test, args.remote_test, device, args.batch, rank, world, blocks)
    classes = int(max(train_y.max(), test_y.max())) + 1
    knn = knn_accuracy(train_f, train_y, test_f, test_y, classes)
    probe, mean, std = train_probe(train_p, train_y, classes, C, rank, world, device, args.steps, args.lr)
    with torch.no_grad():
        logits = probe(torch.from_numpy((test_p - mean) / std).float().to(device)).cpu()
    probe_acc = float((logits.argmax(1).numpy() == test_y).mean())
    out = {"ranks": world, "backend": dist.get_backend(), "train_images": len(train_ids), "test_images": len(test_ids),
           "knn_accuracy": round(knn, 4), "probe_accuracy": round(probe_acc, 4), "probe_c": C, "probe_blocks": blocks}
    ok = True
    if row:
        out["lenspipe"] = {"knn_accuracy": row["knn_accuracy"], "probe_accuracy": row["probe_accuracy"],
                           "train_images": reference["train_images"], "test_images": reference["test_images"]}
        ok = (len(train_ids) == reference["train_images"] and len(test_ids) == reference["test_images"]
              and abs(knn - row["knn_accuracy"]) <= args.tolerance and abs(probe_acc - row["probe_accuracy"]) <= args.tolerance)
        out["match"] = ok
    if rank == 0:
        print(json.dumps(out), flush=True)
    dist.destroy_process_group()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
