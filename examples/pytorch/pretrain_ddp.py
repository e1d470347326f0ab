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
import struct
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
from esvit_model import EsViT, normalized_target, read_safetensors  # noqa: E402

try:
    from lenspipe import ViewSamplerError
    from lenspipe.mds import MDSFormatError
    from lenspipe.run import TrainingPlan
    from lenspipe.torch_data import ViewBatches, collate
except ImportError as e:
    sys.exit(f"error: lenspipe's Python package is needed ({e}): run `pip install ./python` in a lenspipe checkout")


class PretrainError(Exception):
    """A problem with the inputs, printed without a traceback."""


# ---------------------------------------------------------------------------------------------------
# The model's state: student, EMA teacher, AdamW moments, step, and what lenspipe's checkpoints also carry.

class TrainState:
    """student and teacher EsViT modules; m, v: AdamW's moments per parameter name; step: optimizer
    steps taken; center, center_grid, pool_moments: carried as lenspipe keeps them (SimMIM alone does not
    change them)."""

    def __init__(self, config, device):
        self.config = config
        self.student = EsViT(config).to(device)
        self.teacher = EsViT(config).to(device)
        for p in self.teacher.parameters():
            p.requires_grad_(False)
        self.names = [n for n, _ in self.student.named_parameters()]
        self.m = {n: torch.zeros_like(p) for n, p in self.student.named_parameters()}
        self.v = {n: torch.zeros_like(p) for n, p in self.student.named_parameters()}
        self.step = 0
        C, K = config["dim"] << (len(config["depths"]) - 1), config["outDim"]
        self.center = np.zeros((1, K), np.float32)
        self.center_grid = np.zeros((1, K), np.float32)
        self.pool_moments = {f"pool_moments.{who}.{what}": np.full((1, C), 0.0 if what == "mean" else 1.0, np.float64)
                             for who in ("student", "teacher") for what in ("mean", "mean_square")}

    def initialize(self, seed):
        """lenspipe's initialisation scheme (EsViTTrainer.initialize), drawn with torch's generator: Linear
        weights, position tables and the mask token ~ N(0, 0.02), biases 0, LayerNorm weights 1, the patch
        convolution and the heads' weight_v ~ U(+-1/sqrt(fan_in)), weight_g 1; the teacher a copy."""
        g = torch.Generator().manual_seed(int(seed))
        c = self.config
        with torch.no_grad():
            for name, p in self.student.named_parameters():
                if name.endswith("weight_g") or ("norm" in name and name.endswith(".weight") and p.ndim == 1):
                    p.fill_(1.0)
                elif name.endswith(".bias") and not name.startswith("patch_embed.proj"):
                    p.zero_()
                elif name.startswith("patch_embed.proj") or name.endswith("weight_v"):
                    fan_in = c["inChannels"] * c["patch"] ** 2 if name.startswith("patch_embed.proj") else p.shape[1]
                    bound = fan_in ** -0.5
                    p.copy_((torch.rand(p.shape, generator=g) * 2 - 1) * bound)
                else:
                    p.copy_(torch.randn(p.shape, generator=g) * 0.02)
            self.teacher.load_state_dict(self.student.state_dict())

    def load(self, path):
        """Everything a lenspipe checkpoint holds (`lenspipe train`'s, or this script's)."""
        tensors, meta = read_safetensors(path)
        config = json.loads(meta["config"])
        if config != self.config:
            raise PretrainError(f"{path}: its model configuration {config} is not the recipe's {self.config}")
        dev = next(self.student.parameters()).device
        for who, module in (("student", self.student), ("teacher", self.teacher)):
            state = {k[len(who) + 1:]: torch.from_numpy(v.copy()) for k, v in tensors.items() if k.startswith(who + ".")}
            module.load_state_dict(state, strict=True)
        for n in self.names:
            self.m[n] = torch.from_numpy(tensors["optimizer.m." + n].copy()).to(dev)
            self.v[n] = torch.from_numpy(tensors["optimizer.v." + n].copy()).to(dev)
        self.step = int(tensors["optimizer.step"][0])
        self.center, self.center_grid = tensors["center"].copy(), tensors["center_grid"].copy()
        for k in self.pool_moments:
            if k in tensors:
                self.pool_moments[k] = tensors[k].copy()
        return meta

    def save(self, path, metadata):
        """A lenspipe checkpoint (MiniTrain/Checkpoint.swift's layout), written under a temporary name
        and renamed when complete."""
        entries = []  # (name, dtype, shape, bytes)

        def add(name, array):
            a = np.ascontiguousarray(array)
            dtype = {np.dtype(np.float32): "F32", np.dtype(np.float64): "F64", np.dtype(np.int64): "I64"}[a.dtype]
            entries.append((name, dtype, list(a.shape), a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes()))

        student = {k: t.detach().float().cpu().numpy() for k, t in self.student.state_dict().items()}
        teacher = {k: t.detach().float().cpu().numpy() for k, t in self.teacher.state_dict().items()}
        for n in self.names:
            add("student." + n, student[n])
            add("teacher." + n, teacher[n])
            add("optimizer.m." + n, self.m[n].detach().float().cpu().numpy())
            add("optimizer.v." + n, self.v[n].detach().float().cpu().numpy())
        for k, t in self.student.state_dict().items():
            if k.endswith("relative_position_index"):
                index = t.cpu().numpy().astype(np.int64)
                add("student." + k, index)
                add("teacher." + k, index)
        add("center", self.center.astype(np.float32))
        add("center_grid", self.center_grid.astype(np.float32))
        if self.config.get("viewHead") == "standardized":
            for k, a in self.pool_moments.items():
                add(k, a.astype(np.float64))
        add("optimizer.step", np.array([self.step], np.int64))
        header, offset = {"__metadata__": metadata}, 0
        for name, dtype, shape, data in entries:
            header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(data)]}
            offset += len(data)
        text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
        text += b" " * (-len(text) % 8)
        tmp = os.path.join(os.path.dirname(os.path.abspath(path)), "." + os.path.basename(path) + ".partial")
        with open(tmp, "wb") as f:
            f.write(struct.pack("<Q", len(text)))
            f.write(text)
            for e in entries:
                f.write(e[3])
        os.replace(tmp, path)


# ---------------------------------------------------------------------------------------------------
# One step: the recipe's terms, averaged gradients, lenspipe's AdamW, EMA, centres, running moments.

class StudentPass(nn.Module):
    """The student's forward over a step's crops, as one module so that DistributedDataParallel wraps
    what the step differentiates: the global crops (SimMIM's mask token in place of the masked patches)
    and the local crops; heads only when EsViT's terms are on, the pixel decoder only with SimMIM's."""

    def __init__(self, student, heads, decoder):
        super().__init__()
        self.student, self.heads, self.decoder = student, heads, decoder

    def forward(self, globals_, patch_mask, locals_):
        out = {}
        r = self.student(globals_, patch_mask, heads=self.heads)
        out["global"] = (r[0], r[1], self.student.tokens, self.student.pooled) if self.heads else (None, None, None, self.student.pooled)
        if self.decoder:
            out["pred"] = self.student.decode()
        if locals_ is not None:
            v, reg = self.student(locals_, None, heads=True)
            out["local"] = (v, reg, self.student.tokens, self.student.pooled)
        return out


def soft_ce(targets, logits, temperature):
    """Per-row cross-entropy of softmax(logits / T) against `targets` (rows of probabilities)."""
    return -(targets * torch.log_softmax(logits / temperature, dim=-1)).sum(-1)


def esvit_terms(groups, teacher, q, Q, student_temp, b, B, token_mask=None, masked_total=0):
    """EsViT's terms (MiniTrain/EsViTLoss.swift) as sums over this rank's b images, divided by the whole
    batch's counts (B images; masked tokens): the view loss over every (teacher global crop a, student
    crop v != a), the region loss (each student token against the teacher token of crop a with the most
    similar backbone feature), and the masked-token term (a blanked token of a student global crop
    against the teacher's target for the same token). groups: [(view [R,K], region [R,T,K], tokens
    [R,T,C], pooled)] for the global crops (R = 2b) and the local crops (R = Lb), crop-major."""
    crops = [(0, c) for c in range(2)] + ([(1, c) for c in range(groups[1][0].shape[0] // b)] if len(groups) > 1 else [])
    pairs = 2 * len(crops) - 2
    t_fea = nn.functional.normalize(teacher[2].float(), dim=-1)
    view = region = teacher[0].new_zeros(())
    for v, (g, c) in enumerate(crops):
        s_view, s_region, s_tokens = (t[c * b:(c + 1) * b].float() for t in groups[g][:3])
        s_fea = nn.functional.normalize(s_tokens, dim=-1)
        T = s_region.shape[1]
        for a in ([1 - v] if v < 2 else [0, 1]):
            rows = slice(a * b, (a + 1) * b)
            view = view + soft_ce(q[rows], s_view, student_temp).sum() / (pairs * B)
            best = (s_fea @ t_fea[rows].transpose(1, 2)).argmax(-1)  # [b, T]
            target = torch.gather(Q[rows], 1, best[..., None].expand(-1, -1, Q.shape[-1]))
            region = region + soft_ce(target, s_region, student_temp).sum() / (pairs * B * T)
    masked = teacher[0].new_zeros(())
    if token_mask is not None and masked_total > 0:
        s_region = groups[0][1].float()
        masked = soft_ce(Q[token_mask], s_region[token_mask], student_temp).sum() / masked_total
    return view, region, masked


def entropies(p):
    """(mean per-row entropy, entropy of the mean row) in nats of probability rows [N, K]."""
    h = -(p * p.clamp_min(1e-30).log()).sum(-1).mean()
    m = p.mean(0)
    return float(h), float(-(m * m.clamp_min(1e-30).log()).sum())


def decays(name, p):
    """AdamW decays this tensor: not biases, not 1-D tensors (lenspipe's AdamW.decays, DINO's groups)."""
    return not name.endswith(".bias") and p.ndim > 1


def trains(name, freeze_last_layer):
    """The optimizer touches this tensor (EsViTTrainer.trains): never weight_g, not the heads' last
    layers while they are frozen."""
    return not name.endswith("last_layer.weight_g") and not (freeze_last_layer and "last_layer" in name)


@torch.no_grad()
def update(state, values, hyper):
    """lenspipe's update (EsViTTrainer.update): step += 1; for each tensor, per-tensor clip and AdamW with
    the one step count (a tensor without a gradient takes a zero one: its moments and its weight decay
    still move), then teacher = m * teacher + (1 - m) * student for every tensor."""
    state.step += 1
    t = state.step
    lr, wd = values["lr"], values["weight_decay"]
    b1, b2, eps, clip = hyper["beta1"], hyper["beta2"], hyper["eps"], hyper["clip"]
    bc1, bc2 = 1 - b1 ** t, 1 - b2 ** t
    teacher = dict(state.teacher.named_parameters())
    for name, p in state.student.named_parameters():
        if trains(name, values["freeze_last_layer"]):
            g = p.grad if p.grad is not None else torch.zeros_like(p)
            g = g.float()
            norm = float(torch.linalg.vector_norm(g.double()))
            coef = clip / (norm + 1e-6)
            if clip > 0 and coef < 1:
                g = g * coef
            if decays(name, p) and wd != 0:
                p.mul_(1 - lr * wd)
            m, v = state.m[name], state.v[name]
            m.mul_(b1).add_(g, alpha=1 - b1)
            v.mul_(b2).addcmul_(g, g, value=1 - b2)
            p.sub_((lr / bc1) * m / (v.sqrt() / bc2 ** 0.5 + eps))
        teacher[name].mul_(values["momentum"]).add_(p, alpha=1 - values["momentum"])


def gather_crop_major(x, crops, world):
    """Every rank's crop-major crops [crops * b, ...] as the whole batch's crop-major order: crop 0 of
    rank 0's images, of rank 1's, ..., then crop 1, and so on."""
    if world == 1:
        return x
    parts = [torch.empty_like(x) for _ in range(world)]
    dist.all_gather(parts, x.contiguous())
    b = x.shape[0] // crops
    return torch.cat([p[c * b:(c + 1) * b] for c in range(crops) for p in parts])


def my_rows(whole, crops, b, rank, world):
    """This rank's rows of a whole-batch crop-major array."""
    B = b * world
    return torch.cat([torch.as_tensor(whole[c * B + rank * b:c * B + (rank + 1) * b]) for c in range(crops)])


def all_sum(t, world):
    if world > 1:
        dist.all_reduce(t)
    return t


def standardizer(moments, who):
    """The view head's input constants from the running moments (RunningMoments.standardizer)."""
    mean = moments[f"pool_moments.{who}.mean"][0]
    var = np.maximum(0.0, moments[f"pool_moments.{who}.mean_square"][0] - mean * mean)
    return torch.from_numpy(mean.astype(np.float32)), torch.from_numpy((1.0 / np.sqrt(var + 1e-5)).astype(np.float32))


def train_step(state, student_pass, plan, batch, step, rank=0, world=1, autocast=None):
    """One step of the recipe on this rank's images (`batch` from ViewBatches: "global" [b, 2, C, S, S],
    "local" [b, L, C, s, s], image-major), as `lenspipe train` takes it over the whole batch: the step's
    masks drawn over every rank's crops, the loss divided by the whole batch's counts, backward
    (averaged over ranks when `student_pass` is DDP-wrapped), lenspipe's update, then the centres and
    running moments from the whole batch. Returns (metrics, features for the monitors, the step's values)."""
    recipe, config, hyper = plan.recipe, plan.config, state.hyper
    dev = next(state.student.parameters()).device
    gi = batch["global"]
    b, G, C, S, _ = gi.shape
    B = b * world
    x = gi.transpose(0, 1).reshape(G * b, C, S, S).to(dev)
    w_view, w_region, w_masked, w_mim = (recipe["loss"]["view"], recipe["loss"]["region"], recipe["loss"]["masked"], recipe["mim"]["weight"])
    esvit = w_view > 0 or w_region > 0 or w_masked > 0
    values = plan.values(step)
    patch_mask = denominator = None
    if w_mim > 0:
        whole = plan.patch_mask(gather_crop_major(x, G, world).cpu().numpy(), step)
        g = S // config["patch"]
        patch_mask = my_rows(whole, G, b, rank, world).reshape(G * b, g, g).to(dev)
        denominator = float(whole.sum()) * config["patch"] ** 2 * C + 1e-5
    student_x, token_mask, masked_total = x, None, 0
    if w_masked > 0:
        whole = plan.token_mask(G * B, S, step)
        masked_total = int(whole.sum())
        token_mask = my_rows(whole, G, b, rank, world).to(dev)  # [2b, g*g]
        g = int(round(token_mask.shape[1] ** 0.5))
        cell = S // g
        pixels = token_mask.reshape(G * b, 1, g, g).repeat_interleave(cell, 2).repeat_interleave(cell, 3)
        student_x = x.masked_fill(pixels, 0.0)  # TokenMask.apply: the blanked tokens' pixels are 0
    locals_ = None
    if esvit and batch["local"].shape[1] > 0:
        li = batch["local"]
        locals_ = li.transpose(0, 1).reshape(-1, *li.shape[2:]).to(dev)
    if esvit and config.get("viewHead") == "standardized":
        for who, model in (("student", state.student), ("teacher", state.teacher)):
            mean, inv_std = standardizer(state.pool_moments, who)
            model.head_mean.copy_(mean)
            model.head_inv_std.copy_(inv_std)

    for p in state.student.parameters():
        p.grad = None
    context = autocast() if autocast else torch.autocast("cpu", enabled=False)
    teacher = q = Q = None
    if esvit:
        with torch.no_grad(), context:
            tv, tr = state.teacher(x)
            teacher = (tv.float(), tr.float(), state.teacher.tokens.float(), state.teacher.pooled.float())
        t_temp = values["teacher_temperature"]
        q = torch.softmax((teacher[0] - torch.from_numpy(state.center).to(dev)) / t_temp, dim=-1)
        Q = torch.softmax((teacher[1] - torch.from_numpy(state.center_grid).to(dev)) / t_temp, dim=-1)
    with context:
        out = student_pass(student_x, patch_mask, locals_)
    loss = x.new_zeros(())
    view = region = masked = mim = x.new_zeros(())
    if esvit:
        groups = [out["global"]] + ([out["local"]] if "local" in out else [])
        view, region, masked = esvit_terms(groups, teacher, q, Q, hyper["studentTemp"], b, B, token_mask, masked_total)
        loss = loss + w_view * view + w_region * region + w_masked * masked
    if w_mim > 0:
        target = normalized_target(x, recipe["mim"]["block"]) if recipe["mim"]["normalizeTarget"] else x
        p = config["patch"]
        m = patch_mask.repeat_interleave(p, 1).repeat_interleave(p, 2).unsqueeze(1).float()
        mim = ((out["pred"].float() - target.float()).abs() * m).sum() / denominator
        loss = loss + w_mim * mim
    (loss * world).backward()  # DDP averages over the W ranks; each rank's share is a W-th of the batch's sum
    update(state, values, hyper)

    parts = torch.stack([t.detach().double() for t in (loss, view, region, masked, mim)])
    all_sum(parts, world)
    metrics = dict(zip(["loss", "view_loss", "region_loss", "masked_loss", "mim_loss"], parts.tolist()))
    features = out["global"][3].detach()
    if esvit:
        with torch.no_grad():
            m = hyper["centerMomentum"]
            sums = all_sum(torch.cat([teacher[0].double().sum(0), teacher[1].double().sum((0, 1)),
                                      q.double().sum(0), Q.double().reshape(-1, Q.shape[-1]).sum(0)]), world)
            K = q.shape[-1]
            view_mean, region_mean = sums[:K] / (G * B), sums[K:2 * K] / (G * B * Q.shape[1])
            state.center = (m * state.center + (1 - m) * view_mean.float().cpu().numpy()[None]).astype(np.float32)
            state.center_grid = (m * state.center_grid + (1 - m) * region_mean.float().cpu().numpy()[None]).astype(np.float32)
            metrics["teacher_entropy_view"] = all_sum(torch.tensor([entropies(q)[0] * G * b]), world).item() / (G * B)
            metrics["teacher_entropy_region"] = all_sum(torch.tensor([entropies(Q.reshape(-1, K))[0] * G * b]), world).item() / (G * B)
            for key, total, rows in (("teacher_entropy_view_mean", sums[2 * K:3 * K], G * B), ("teacher_entropy_region_mean", sums[3 * K:], G * B * Q.shape[1])):
                mean = (total / rows).clamp_min(1e-30)
                metrics[key] = float(-(mean * mean.log()).sum())
            if config.get("viewHead") == "standardized":
                student_rows = [out["global"][3]] + ([out["local"][3]] if "local" in out else [])
                s = torch.cat([r.detach().double() for r in student_rows])
                tp = teacher[3].double()
                moments = all_sum(torch.cat([s.sum(0), (s * s).sum(0), tp.sum(0), (tp * tp).sum(0)]), world).cpu().numpy()
                Cf = s.shape[1]
                n_student, n_teacher = s.shape[0] * world, tp.shape[0] * world
                mm = float(m)
                for who, (sum_, sq, n) in (("student", (moments[:Cf], moments[Cf:2 * Cf], n_student)),
                                           ("teacher", (moments[2 * Cf:3 * Cf], moments[3 * Cf:], n_teacher))):
                    key = f"pool_moments.{who}."
                    state.pool_moments[key + "mean"] = mm * state.pool_moments[key + "mean"] + (1 - mm) * (sum_ / n)[None]
                    state.pool_moments[key + "mean_square"] = mm * state.pool_moments[key + "mean_square"] + (1 - mm) * (sq / n)[None]
        features = teacher[3]
    return metrics, features, values


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
    p.add_argument("-o", "--output", required=True, help="the run folder (recipe.json, run.json, checkpoint.safetensors, final.safetensors, metrics.jsonl)")
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
    if cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    device = torch.device("cuda") if cuda else torch.device("cpu")
    if not cuda:
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1")))))
    say = (lambda *a: None) if (args.quiet or rank != 0) else (lambda *a: print(*a, flush=True))
    out = args.output
    paths = {k: os.path.join(out, k) for k in ("recipe.json", "run.json", "checkpoint.safetensors", "final.safetensors", "metrics.jsonl")}

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
    run_state = dict(plan.run, threads=world)
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

    meta_path = os.path.join(os.path.dirname(os.path.abspath(plan.run["trainFolder"])), "lenspipe.json")
    if not os.path.exists(meta_path):
        meta_path = os.path.join(plan.run["trainFolder"], "lenspipe.json")
    dataset = open_dataset(plan.run["trainFolder"], args.remote)
    batches = ViewBatches(dataset, recipe=recipe, metadata=meta_path if os.path.exists(meta_path) else None, batch_size=b,
                          rank=rank, world_size=world)
    per_epoch = plan.run["stepsPerEpoch"]
    say(f"{world} process(es) on {device.type}, global batch {B} ({b} per process), steps {state.step}..{stop} of {total}"
        f" ({per_epoch} per epoch)")

    metrics = open(paths["metrics.jsonl"], "a") if rank == 0 else None
    every = recipe["monitor"]["metricsEvery"]
    start, line_start, line_steps, waited = time.time(), time.time(), 0, 0.0
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
            if rank == 0 and step % recipe["monitor"]["checkpointEvery"] == 0 and step < stop:
                state.save(paths["checkpoint.safetensors"], metadata(plan, state, values, run_state))
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
