"""Writes the golden vectors of fixtures/simmim-tiny (format: its README.md) with PyTorch, in float64:
the tiny Swin of fixtures/esvit-tiny with SimMIM's mask token and linear pixel decoder
(examples/pytorch/esvit_model.py, `pixelDecoder`), one SimMIM step on two masked global crops: the
reconstruction, the L1 loss on the masked pixels, every gradient, and the state after one optimizer
step (per-tensor clip, AdamW, teacher EMA), plus the per-block normalised target and its loss.

    python3 Tests/helpers/make_golden_simmim.py fixtures/simmim-tiny [--seed 0]
    python3 Tests/helpers/make_golden_simmim.py fixtures/simmim-tiny-2stage --decoder-stages 2

With `--decoder-stages 2` the decoder also reads the stage before the last (`decoder_mid`); that
variant writes the forward, the loss and the gradients, not the teacher or the step.

The loss is the bridge's `EsViT.reconstruct`, SimMIM's definition (Xie et al. 2022, `simmim.py`): the
decoder's pixels against the input on the masked patches only, summed and divided by the masked pixels
(+1e-5) and the channels. The normalised target is lenspipe's `normTarget` form: each `block x block` cell of
each image and channel minus its mean, divided by sqrt(biased variance + 1e-6).

lenspipe's SimMIM-only step leaves the view and region heads out of the forward; their gradients are
zero, and the optimizer still applies weight decay to them (AdamW with a zero gradient). The step here
does the same by giving those tensors zero gradients rather than none.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples", "pytorch"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from esvit_model import EsViT, normalized_target  # noqa: E402
from make_golden_esvit import CONFIG as ESVIT_CONFIG, initialise  # noqa: E402

CONFIG = dict(ESVIT_CONFIG, pixelDecoder=True)
LR, WEIGHT_DECAY, CLIP, BETAS, EPS, EMA = 1e-3, 0.04, 3.0, (0.9, 0.999), 1e-8, 0.996
SIZE, IMAGES, TARGET_BLOCK = 32, 2, 8


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--decoder-stages", type=int, default=1, choices=[1, 2])
    args = p.parse_args()
    CONFIG["decoderStages"] = args.decoder_stages
    full_step = args.decoder_stages == 1
    torch.set_default_dtype(torch.float64)
    g = torch.Generator().manual_seed(args.seed)
    student = EsViT(CONFIG).double()
    initialise(student, g)
    teacher = EsViT(CONFIG).double()
    teacher.load_state_dict(student.state_dict())
    with torch.no_grad():
        for name, t in teacher.named_parameters():
            if not name.endswith("weight_g"):
                t.add_(0.01 * torch.randn(t.shape, generator=g, dtype=t.dtype))
    for t in teacher.parameters():
        t.requires_grad_(False)
    student.head.last_layer.weight_g.requires_grad_(False)
    student.head_dense.last_layer.weight_g.requires_grad_(False)

    # Two global crops of two images, crop-major ([crop0 image0, crop0 image1, crop1 image0, crop1 image1]),
    # and a patch mask for each: half the patches, drawn at random, at least one masked and one visible.
    crops = [torch.randn(IMAGES, 1, SIZE, SIZE, generator=g) for _ in range(2)]
    grid = SIZE // CONFIG["patch"]
    mask = (torch.rand(2 * IMAGES, grid, grid, generator=g) < 0.5).double()
    mask[:, 0, 0], mask[:, -1, -1] = 1, 0
    x = torch.cat(crops)

    class Recorder(dict):
        def __setitem__(self, key, value):
            super().__setitem__(key, value.detach().clone())
    files = Recorder()
    params = dict(student.named_parameters())
    for name, t in params.items():
        files["param." + name] = t
    if full_step:
        for name, t in teacher.named_parameters():
            files["teacher." + name] = t
    for i, c in enumerate(crops):
        files[f"input.crop{i}"] = c
    files["input.patch_mask"] = mask

    with torch.no_grad():
        target = normalized_target(x, TARGET_BLOCK)
        files["target.normalized"] = target
        _, loss_normalized = student.reconstruct(x, mask, target)
        files["loss.normalized"] = loss_normalized.reshape(1)
    pred, loss = student.reconstruct(x, mask)
    files["fwd.reconstruction"] = pred
    files["fwd.tokens"] = student.tokens
    files["loss.value"] = loss.reshape(1)
    loss.backward()
    for name, t in params.items():
        if t.requires_grad:
            if t.grad is None:
                t.grad = torch.zeros_like(t)
            files["grad." + name] = t.grad

    # One step: per-tensor clip, AdamW (no decay on biases and 1-D tensors), EMA.
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
        for t, s in zip(teacher.parameters(), student.parameters()):
            t.mul_(EMA).add_((1 - EMA) * s)
    if full_step:
        for name, t in student.named_parameters():
            files["step.student." + name] = t
        for name, t in teacher.named_parameters():
            files["step.teacher." + name] = t

    os.makedirs(args.out, exist_ok=True)
    for name, t in files.items():
        np.save(os.path.join(args.out, name + ".npy"), t.detach().numpy().astype(np.float32))
    meta = {
        "config": CONFIG, "images": IMAGES, "size": SIZE, "target_block": TARGET_BLOCK,
        "masked_patches": int(mask.sum()), "patches": mask.numel(),
        "crops": "input.crop0..1 global crops [2, 1, 32, 32]; stacked crop-major, the order of input.patch_mask",
        "dtype": "float64 math, stored float32",
        "step": {"lr": LR, "weight_decay": WEIGHT_DECAY, "no_decay": "names ending .bias and 1-D tensors", "clip_per_tensor": CLIP,
                 "betas": list(BETAS), "eps": EPS, "ema_momentum": EMA,
                 "frozen": "weight_g of both heads", "heads": "zero gradients (not in SimMIM's forward); weight decay still applies"},
        "generator": "Tests/helpers/make_golden_simmim.py", "seed": args.seed,
    }
    with open(os.path.join(args.out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print(f"wrote {len(files)} arrays to {args.out} (loss {loss.item():.6f}, normalised-target loss {loss_normalized.item():.6f}, "
          f"{int(mask.sum())} of {mask.numel()} patches masked)")


if __name__ == "__main__":
    main()
