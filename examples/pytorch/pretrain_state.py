"""The state of a lenspipe pre-training run in PyTorch (examples/pytorch/pretrain_ddp.py): student, EMA
teacher, AdamW moments, step, centres and running moments, initialised as lenspipe does, read from and
written to lenspipe's checkpoint layout (MiniTrain/Checkpoint.swift), so `lenspipe eval`, `finetune` and
`train --resume` read what it writes."""
import json
import os
import struct

import numpy as np
import torch

from esvit_model import EsViT, read_safetensors


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
