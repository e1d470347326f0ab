"""Writes the golden vectors of fixtures/esvit-tiny (format: its README.md) with PyTorch, in float64:
a tiny EsViT (examples/pytorch/esvit_model.py: Swin backbone under microsoft/esvit's names, DINO view
and region heads), its forward on one global crop, the EsViT loss over 2 global + 2 local crops, every
gradient, and the state after one optimizer step (per-tensor clip, AdamW, teacher EMA, centres).

    python3 Tests/helpers/make_golden_esvit.py fixtures/esvit-tiny [--seed 0]

The loss is written out here from its definition (esvit's DDINOLoss, restated in MiniTrain's EsViTLoss doc comment), not imported: view
level DINO cross-entropy per (teacher global crop a, student crop v != a), region level matching each
student token to the teacher token of crop a with the most similar backbone feature (cosine, argmax),
averaged over the pairs with weight 0.5 each. The argmax must be unambiguous in float32 too: the
script re-draws with the next seed until the smallest top-1/top-2 similarity margin is above 1e-3.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples", "pytorch"))
from esvit_model import EsViT  # noqa: E402

CONFIG = {"inChannels": 1, "dim": 16, "depths": [2, 2], "heads": [2, 4], "window": 4, "patch": 4, "mlpRatio": 2,
          "outDim": 64, "hidden": 32, "bottleneck": 16}
TEACHER_TEMP, STUDENT_TEMP, CENTER_MOMENTUM = 0.04, 0.1, 0.9
LR, WEIGHT_DECAY, CLIP, BETAS, EPS, EMA = 1e-3, 0.04, 3.0, (0.9, 0.999), 1e-8, 0.996


def initialise(model, g):
    """Values that exercise every parameter: Linear/conv weights ~ U(+-1/sqrt(fan_in)), biases and
    LayerNorm shifts ~ 0.1 N(0,1), LayerNorm scales 1 + 0.1 N(0,1), position tables 0.1 N(0,1), weight_g = 1."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("weight_g"):
                p.fill_(1.0)
            elif "relative_position_bias_table" in name:
                p.copy_(0.1 * torch.randn(p.shape, generator=g, dtype=p.dtype))
            elif "norm" in name and name.endswith(".weight"):
                p.copy_(1 + 0.1 * torch.randn(p.shape, generator=g, dtype=p.dtype))
            elif p.ndim == 1:
                p.copy_(0.1 * torch.randn(p.shape, generator=g, dtype=p.dtype))
            else:
                bound = 1 / np.sqrt(p[0].numel())
                p.copy_((2 * torch.rand(p.shape, generator=g, dtype=p.dtype) - 1) * bound)


def outputs(model, x):
    """(view logits [B, K], region logits [B, T, K], backbone tokens [B, T, C]) of one crop."""
    view, region = model(x)
    return view, region, model.tokens


def esvit_loss(student_out, teacher_out, center, center_grid):
    """Mean over pairs (a in teacher globals, v != a) of 0.5 view CE + 0.5 region CE; also the margin."""
    terms, margins = [], []
    for a, (t_cls, t_region, t_fea) in enumerate(teacher_out):
        q = F.softmax((t_cls - center) / TEACHER_TEMP, dim=-1)
        q_region = F.softmax((t_region - center_grid) / TEACHER_TEMP, dim=-1)
        for v, (s_cls, s_region, s_fea) in enumerate(student_out):
            if v == a:
                continue
            view = -(q * F.log_softmax(s_cls / STUDENT_TEMP, dim=-1)).sum(-1).mean()
            sim = F.normalize(s_fea, dim=-1) @ F.normalize(t_fea, dim=-1).transpose(1, 2)  # [B, T_v, N]
            top2 = sim.topk(2, dim=-1).values
            margins.append(float((top2[..., 0] - top2[..., 1]).min().detach()))
            idx = sim.argmax(-1)  # [B, T_v]
            target = torch.gather(q_region, 1, idx[..., None].expand(-1, -1, q_region.shape[-1]))
            region = -(target * F.log_softmax(s_region / STUDENT_TEMP, dim=-1)).sum(-1).mean()
            terms.append(0.5 * view + 0.5 * region)
    return torch.stack(terms).mean(), min(margins)


def make(seed):
    g = torch.Generator().manual_seed(seed)
    student = EsViT(CONFIG).double()
    initialise(student, g)
    teacher = EsViT(CONFIG).double()
    teacher.load_state_dict(student.state_dict())
    with torch.no_grad():
        for name, p in teacher.named_parameters():
            if not name.endswith("weight_g"):
                p.add_(0.01 * torch.randn(p.shape, generator=g, dtype=p.dtype))
    for p in teacher.parameters():
        p.requires_grad_(False)
    student.head.last_layer.weight_g.requires_grad_(False)
    student.head_dense.last_layer.weight_g.requires_grad_(False)
    crops = [torch.randn(2, 1, 32, 32, generator=g, dtype=torch.float64) for _ in range(2)]
    crops += [torch.randn(2, 1, 16, 16, generator=g, dtype=torch.float64) for _ in range(2)]
    center = 0.1 * torch.randn(1, CONFIG["outDim"], generator=g, dtype=torch.float64)
    center_grid = 0.1 * torch.randn(1, CONFIG["outDim"], generator=g, dtype=torch.float64)
    return student, teacher, crops, center, center_grid


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.set_default_dtype(torch.float64)
    seed = args.seed
    while True:
        student, teacher, crops, center, center_grid = make(seed)
        with torch.no_grad():
            teacher_out = [outputs(teacher, x) for x in crops[:2]]
        student_out = [outputs(student, x) for x in crops]
        loss, margin = esvit_loss(student_out, teacher_out, center, center_grid)
        if margin > 1e-3:
            break
        seed += 1


    class Recorder(dict):
        def __setitem__(self, key, value):
            super().__setitem__(key, value.detach().clone())
    files = Recorder()
    params = dict(student.named_parameters())
    for name, t in params.items():
        files["param." + name] = t
    for name, t in teacher.named_parameters():
        files["teacher." + name] = t
    for i, x in enumerate(crops):
        files[f"input.crop{i}"] = x
    with torch.no_grad():
        view, region = student(crops[0])
        files["fwd.crop0.pooled"] = student.pooled
        files["fwd.crop0.region"] = student.tokens
        files["fwd.crop0.view_logits"] = view
        files["fwd.crop0.region_logits"] = region
        files["fwd.crop0.attn.layers.0.blocks.1"] = student.layers[0].blocks[1].attn_probs
    files["loss.center"], files["loss.center_grid"] = center, center_grid
    files["loss.value"] = loss.detach().reshape(1)
    loss.backward()
    for name, t in params.items():
        if t.requires_grad:
            files["grad." + name] = t.grad

    # One step: per-tensor clip, AdamW (no decay on biases and 1-D tensors), EMA, centres.
    with torch.no_grad():
        for t in params.values():
            if t.grad is not None:
                coef = CLIP / (t.grad.norm() + 1e-6)
                if coef < 1:
                    t.grad.mul_(coef)
    trainable = [(n, t) for n, t in params.items() if t.requires_grad]
    decay = [t for n, t in trainable if not (n.endswith(".bias") or t.ndim == 1)]
    no_decay = [t for n, t in trainable if n.endswith(".bias") or t.ndim == 1]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": WEIGHT_DECAY}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=LR, betas=BETAS, eps=EPS)
    opt.step()
    with torch.no_grad():
        for (name, t), s in zip(teacher.named_parameters(), student.parameters()):
            t.mul_(EMA).add_((1 - EMA) * s)
        t_cls = torch.cat([o[0] for o in teacher_out])
        t_region = torch.cat([o[1].reshape(-1, o[1].shape[-1]) for o in teacher_out])
        files["step.center"] = CENTER_MOMENTUM * center + (1 - CENTER_MOMENTUM) * t_cls.mean(0, keepdim=True)
        files["step.center_grid"] = CENTER_MOMENTUM * center_grid + (1 - CENTER_MOMENTUM) * t_region.mean(0, keepdim=True)
    for name, t in student.named_parameters():
        files["step.student." + name] = t
    for name, t in teacher.named_parameters():
        files["step.teacher." + name] = t

    os.makedirs(args.out, exist_ok=True)
    for name, t in files.items():
        np.save(os.path.join(args.out, name + ".npy"), t.detach().numpy().astype(np.float32))
    meta = {
        "config": {"cin": CONFIG["inChannels"], "dim": CONFIG["dim"], "depths": CONFIG["depths"], "heads": CONFIG["heads"],
                   "ws": CONFIG["window"], "patch": CONFIG["patch"], "mlp_ratio": CONFIG["mlpRatio"], "out_dim": CONFIG["outDim"],
                   "hidden": CONFIG["hidden"], "bottleneck": CONFIG["bottleneck"]},
        "teacher_temp": TEACHER_TEMP, "student_temp": STUDENT_TEMP,
        "crops": "input.crop0..1 global (teacher+student), input.crop2..3 local (student only)",
        "dtype": "float64 math, stored float32",
        "note": "per-resolution window: ws = min(4, H); no shift when H <= 4",
        "step": {"lr": LR, "weight_decay": WEIGHT_DECAY, "no_decay": "names ending .bias and 1-D tensors", "clip_per_tensor": CLIP,
                 "betas": list(BETAS), "eps": EPS, "ema_momentum": EMA, "center_momentum": CENTER_MOMENTUM,
                 "frozen": "weight_g of both heads (norm_last_layer); last layers NOT frozen in this step"},
        "generator": "Tests/helpers/make_golden_esvit.py", "seed": seed, "min_argmax_margin": round(margin, 5),
    }
    with open(os.path.join(args.out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print(f"wrote {len(files)} arrays to {args.out} (seed {seed}, loss {float(loss):.6f}, smallest argmax margin {margin:.4f})")


if __name__ == "__main__":
    main()
