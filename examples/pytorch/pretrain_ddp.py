"""Pre-train lenspipe's EsViT with PyTorch on one or many GPUs (or CPU processes), with lenspipe's own
views and recipe, leaving a run folder `lenspipe eval`, `embed`, `attention`, `finetune` and
`lenspipe train --resume` read.

    pip install ./python                                   # lenspipe's view sampler (libLensPipeViews)
    torchrun --nproc_per_node 2 examples/pytorch/pretrain_ddp.py SHARDS -o RUN --steps 50          # 2 CPU processes
    torchrun --nproc_per_node 8 examples/pytorch/pretrain_ddp.py SHARDS -o RUN                     # one node, 8 GPUs
    torchrun --nnodes 4 --nproc_per_node 8 --rdzv_backend c10d --rdzv_endpoint HOST:29500 \\
        examples/pytorch/pretrain_ddp.py SHARDS -o RUN --remote s3://bucket/shards                 # several nodes
    lenspipe eval RUN/final.safetensors --train SHARDS/train --test TEST/test
    lenspipe train SHARDS -o RUN --resume                                                         # continue on a CPU box

What comes from lenspipe's own code (through libLensPipeViews, `lenspipe.run.TrainingPlan`): the
resolved recipe (`--recipe FILE`, `lenspipe train --print-recipe`'s form; the defaults without it), the
run's length and `run.json`, the schedules (learning-rate warm-up and cosine, weight-decay and EMA
momentum cosines, last-layer freezing), every view (`lenspipe.ViewSampler`: the bits `lenspipe train`
draws for a sample at an epoch) and SimMIM's patch mask of each step (drawn over the whole global batch,
so N processes mask what one does). What is written here in PyTorch: the model (esvit_model.py), the
losses, the optimizer (lenspipe's AdamW: per-tensor clip, decay but for biases and
1-D tensors, one step count for every tensor) and the EMA teacher, so that a run here follows
`lenspipe train`'s run step for step (Tests/lenspipeTests/PyTorchPretrainTests.swift checks every tensor).

Data parallel: `recipe.batch` is the global batch, the batches are `lenspipe train`'s (its sample order
per epoch, `TrainingPlan.order`); each of W processes takes batch/W images of each
(`lenspipe.torch_data.ViewBatches`), and
DistributedDataParallel averages the gradients (gloo on CPU, nccl on GPUs; bf16 autocast on GPUs unless
--no-bf16). The loss is divided by the whole batch's masked pixels, so W processes take the step one
process would with the same global batch. Shards are read with mosaicml-streaming's StreamingDataset when
it is installed (a local folder, or `--remote` an object store URL with SHARDS the local cache), else
with `lenspipe.mds.LocalShards` (local folders).

Every term of lenspipe's recipes is here: SimMIM's (the default), and EsViT's view, region and
masked-token terms with the EMA teacher's centred, sharpened targets, local crops, the standardised
view head's running moments and the frozen last layers of the first steps.
"""
import argparse
import json
import os
import sys
import time
import warnings

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn

# esvit_model keeps esvit's weight_norm heads (their state-dict names); DDP's note on the 1x1 decoder
# convolution's gradient strides is about a copy, not a result.
warnings.filterwarnings("ignore", message=".*weight_norm.*is deprecated.*")
warnings.filterwarnings("ignore", message="Grad strides do not match bucket view strides")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pretrain_state import PretrainError, TrainState  # noqa: E402  the run's state and checkpoints
from pretrain_step import StudentPass, train_step  # noqa: E402  one step of the recipe

try:
    from lenspipe import ViewSamplerError
    from lenspipe.mds import MDSFormatError
    from lenspipe.run import TrainingPlan
    from lenspipe.torch_data import ViewBatches, collate
except ImportError as e:
    sys.exit(f"error: lenspipe's Python package is needed ({e}): run `pip install ./python` in a lenspipe checkout")


# ---------------------------------------------------------------------------------------------------
# The run folder.

def metadata(plan, state, values, run):
    """The checkpoint's `__metadata__` strings, as `lenspipe train` writes them."""
    hyper = json.loads(plan.hyper_text)
    hyper.update(lr=values["lr"], weightDecay=values["weight_decay"], emaMomentum=values["momentum"],
                 teacherTemp=values["teacher_temperature"], freezeLastLayer=values["freeze_last_layer"])
    m = {"format": "lenspipe-esvit", "config": plan.config_text, "hyper": json.dumps(hyper, sort_keys=True),
         "recipe": json.dumps(plan.recipe, sort_keys=True, indent=2), "run": json.dumps(run, sort_keys=True),
         "trainer": "examples/pytorch/pretrain_ddp.py"}
    if plan.normalization is not None:
        m["normalization"] = plan.normalization
    if plan.sky_zero is not None:
        m["sky_zero"] = str(plan.sky_zero)
    return m


def write_json(path, obj):
    tmp = path + ".partial"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
    os.replace(tmp, path)


def keep_metrics_through(path, step):
    """Drops the lines a stopped run wrote after its checkpoint's step (they are written again), as
    `lenspipe train --resume` does (MetricsLog's keepThrough)."""
    kept = []
    with open(path) as f:
        for line in f:
            try:
                if json.loads(line).get("step", 0) <= step:
                    kept.append(line if line.endswith("\n") else line + "\n")
            except json.JSONDecodeError:
                pass  # a line cut short by the stop
    tmp = path + ".partial"
    with open(tmp, "w") as f:
        f.writelines(kept)
    os.replace(tmp, path)


def feature_statistics(features):
    """metrics.jsonl's feature_std and effective_rank (FeatureMetrics.FeatureStatistics) of [N, D]."""
    x = features.double().cpu()
    std = float(x.std(0, unbiased=False).mean())
    s = torch.linalg.svdvals(x - x.mean(0))
    p = s / s.sum() if float(s.sum()) > 0 else None
    rank = float(torch.exp(-(p[p > 0] * p[p > 0].log()).sum())) if p is not None else float("nan")
    return std, rank


def open_dataset(folder, remote):
    """StreamingDataset when mosaicml-streaming is installed (needed for --remote), else LocalShards."""
    try:
        from streaming import StreamingDataset
    except ImportError:
        if remote:
            raise PretrainError("--remote needs mosaicml-streaming (pip install mosaicml-streaming)")
        from lenspipe.mds import LocalShards
        return LocalShards(folder)
    return StreamingDataset(local=folder, remote=remote, shuffle=False, batch_size=1)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("shards", help="what `lenspipe train` takes: a lenspipe output with train/ (and val/), or one MDS folder")
    p.add_argument("-o", "--output", required=True, help="the run folder (recipe.json, run.json, checkpoint.safetensors, middle.safetensors, final.safetensors, metrics.jsonl)")
    p.add_argument("--recipe", help="a recipe file (`lenspipe train --print-recipe`'s form; unlisted fields keep lenspipe's defaults)")
    p.add_argument("--steps", type=int, help="stop after this many steps of the run (its checkpoints let it continue: --resume here or `lenspipe train --resume`)")
    p.add_argument("--total-steps", type=int, help="the run's length in steps (default: the recipe's epochs over the train split)")
    p.add_argument("--init", help="start from this lenspipe checkpoint (weights, teacher, optimizer moments and step)")
    p.add_argument("--resume", action="store_true", help="continue the run in --output (its recipe.json, run.json and checkpoint.safetensors)")
    p.add_argument("--remote", help="an object-store URL holding the shards (StreamingDataset's remote; SHARDS is the local cache)")
    p.add_argument("--workers", type=int, default=2, help="DataLoader workers per process making views (default 2)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument("--no-bf16", action="store_true", help="float32 on GPUs too (bf16 autocast is the default there)")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    try:
        run(args)
    except (PretrainError, ViewSamplerError, MDSFormatError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)


def run(args):
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    cuda = args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available())
    if distributed:
        dist.init_process_group("nccl" if cuda else "gloo")
    rank, world = (dist.get_rank(), dist.get_world_size()) if distributed else (0, 1)
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if cuda:
        torch.cuda.set_device(local_rank)
    device = torch.device("cuda", local_rank) if cuda else torch.device("cpu")  # DDP's device_ids need the index
    if not cuda:
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1")))))
    say = (lambda *a: None) if (args.quiet or rank != 0) else (lambda *a: print(*a, flush=True))
    out = args.output
    paths = {k: os.path.join(out, k) for k in ("recipe.json", "run.json", "checkpoint.safetensors", "final.safetensors", "middle.safetensors", "metrics.jsonl")}

    if args.resume:
        if args.recipe or args.init or args.total_steps:
            raise PretrainError("--resume takes the recipe, length and weights from the run folder: drop --recipe, --init and --total-steps")
        for k in ("recipe.json", "run.json", "checkpoint.safetensors"):
            if not os.path.exists(paths[k]):
                raise PretrainError(f"{paths[k]}: not found (nothing to resume)")
        with open(paths["run.json"]) as f:
            previous = json.load(f)
        plan = TrainingPlan(args.shards, recipe=paths["recipe.json"], total_steps=previous["totalSteps"])
        if plan.run["trainFolder"] != previous["trainFolder"] or plan.run["trainImages"] != previous["trainImages"]:
            raise PretrainError(f"{paths['run.json']}: the run trained on {previous['trainImages']} images of {previous['trainFolder']}, "
                                f"not {plan.run['trainImages']} of {plan.run['trainFolder']}")
    else:
        if os.path.exists(paths["run.json"]) or os.path.exists(paths["checkpoint.safetensors"]):
            raise PretrainError(f"{out} already holds a run: pass --resume to continue it, or choose another --output")
        plan = TrainingPlan(args.shards, recipe=args.recipe, total_steps=args.total_steps)
    recipe = plan.recipe
    B = recipe["batch"]
    if B % world:
        raise PretrainError(f"recipe batch {B} (the global batch) is not divisible by the {world} processes")
    b = B // world

    state = TrainState(plan.config, device)
    state.hyper = json.loads(plan.hyper_text)
    if args.resume:
        state.load(paths["checkpoint.safetensors"])
    elif args.init:
        state.load(args.init)
    else:
        state.initialize(recipe["seed"])
    total = plan.run["totalSteps"]
    if state.step > total:
        raise PretrainError(f"the checkpoint is at step {state.step}, past the run's {total} steps")
    stop = total if args.steps is None else min(total, state.step + args.steps)
    # A resumed run keeps its run.json (a `--minutes` run's budget fields included).
    run_state = dict(previous) if args.resume else dict(plan.run, threads=world)
    if distributed:
        dist.barrier()  # every rank has checked the folder before rank 0 writes into it
    if rank == 0:
        os.makedirs(out, exist_ok=True)
        if not args.resume:
            write_json(paths["recipe.json"], recipe)
            write_json(paths["run.json"], run_state)

    esvit = any(recipe["loss"][k] > 0 for k in ("view", "region", "masked"))
    student_pass = StudentPass(state.student, heads=esvit, decoder=recipe["mim"]["weight"] > 0)
    if distributed:
        student_pass = nn.parallel.DistributedDataParallel(student_pass, device_ids=[device.index] if cuda else None,
                                                           find_unused_parameters=not esvit)  # SimMIM alone reads no head
    autocast = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if cuda and not args.no_bf16 else None

    # The shards' lenspipe.json: in the folder, else its parent (ShardWriter's MDSSource looks in that order).
    meta_path = os.path.join(plan.run["trainFolder"], "lenspipe.json")
    if not os.path.exists(meta_path):
        meta_path = os.path.join(os.path.dirname(os.path.abspath(plan.run["trainFolder"])), "lenspipe.json")
    dataset = open_dataset(plan.run["trainFolder"], args.remote)
    batches = ViewBatches(dataset, recipe=recipe, metadata=meta_path if os.path.exists(meta_path) else None, batch_size=b,
                          rank=rank, world_size=world)
    per_epoch = plan.run["stepsPerEpoch"]
    say(f"{world} process(es) on {device.type}, global batch {B} ({b} per process), steps {state.step}..{stop} of {total}"
        f" ({per_epoch} per epoch)")

    if rank == 0 and args.resume and os.path.exists(paths["metrics.jsonl"]):
        keep_metrics_through(paths["metrics.jsonl"], state.step)
    metrics = open(paths["metrics.jsonl"], "a") if rank == 0 else None
    every = recipe["monitor"]["metricsEvery"]
    start, line_start, line_steps, waited = time.time(), time.time(), 0, 0.0
    last_checkpoint = time.time()
    step, values = state.step, plan.values(max(0, state.step - 1))
    while step < stop:
        epoch, first = divmod(step, per_epoch)
        batches.set_epoch(epoch, first_batch=first, order=plan.order(epoch))  # lenspipe train's order
        loader = torch.utils.data.DataLoader(batches, batch_size=None, num_workers=args.workers, collate_fn=collate)
        t0 = time.time()
        for batch in loader:
            waited += time.time() - t0
            measured, features, values = train_step(state, student_pass, plan, batch, step, rank, world, autocast)
            loss = measured["loss"]
            if not np.isfinite(loss):
                raise PretrainError(f"step {step + 1}: the loss became {loss}; the run stopped (lower optimizer.baseLR or raise optimizer.clip)")
            step += 1
            line_steps += 1
            if rank == 0 and (step % every == 0 or step == stop):
                seconds = time.time() - line_start
                std, erank = feature_statistics(features)
                record = dict(measured, step=step, epoch=step / per_epoch)
                record.update({"lr": values["lr"], "log_k": float(np.log(recipe["model"]["outDim"])),
                               "weight_decay": values["weight_decay"], "momentum": values["momentum"],
                          "teacher_temperature": values["teacher_temperature"], "last_layer_frozen": values["freeze_last_layer"],
                          "feature_std": std, "effective_rank": erank, "images_per_s": line_steps * B / max(seconds, 1e-9),
                          "data_wait": waited / max(seconds, 1e-9), "elapsed_s": time.time() - start, "processes": world})
                metrics.write(json.dumps(record) + "\n")
                metrics.flush()
                say(f"step {step}/{total}  loss {loss:.4f}  lr {values['lr']:.2e}  {record['images_per_s']:.1f} img/s")
                line_start, line_steps, waited = time.time(), 0, 0.0
            if rank == 0 and step >= max(1, total // 2) and not os.path.exists(paths["middle.safetensors"]):
                state.save(paths["middle.safetensors"], metadata(plan, state, values, run_state))  # `lenspipe attention`'s middle
            due = step % recipe["monitor"]["checkpointEvery"] == 0 or time.time() - last_checkpoint >= 60 * recipe["monitor"]["checkpointMinutes"]
            if rank == 0 and due and step < stop:
                state.save(paths["checkpoint.safetensors"], metadata(plan, state, values, run_state))
                last_checkpoint = time.time()
            if step >= stop:
                break
            t0 = time.time()
    if rank == 0:
        run_state["finished"] = step >= total
        meta = metadata(plan, state, values, run_state)
        state.save(paths["checkpoint.safetensors"], meta)
        state.save(paths["final.safetensors"], meta)
        write_json(paths["run.json"], run_state)
        metrics.close()
        say(f"step {step} of {total}: {paths['final.safetensors']} ({time.time() - start:.1f} s)")
    if distributed:
        dist.barrier()
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
