"""Loads a lenspipe EsViT checkpoint (safetensors) into a PyTorch model with microsoft/esvit's
state-dict names and compares its logits with lenspipe's.

python3 load_checkpoint_torch.py DIR   (DIR has model.safetensors, input.npy, view.npy, region.npy, pooled.npy,
    probe.npy and probe_blocks.txt)

The model and the loader are examples/pytorch/esvit_model.py: the teacher weights and the
relative-position buffers load with strict=True after stripping "teacher.".
"""
import os, sys
import numpy as np
import torch
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples", "pytorch"))
from esvit_model import load_checkpoint  # noqa: E402


model, config, meta = load_checkpoint(sys.argv[1] + "/model.safetensors")  # teacher, strict=True (buffers included)
state = model.state_dict()
x = torch.from_numpy(np.load(sys.argv[1] + "/input.npy"))
with torch.no_grad():
    view, region = model(x)
dv = np.abs(view.numpy() - np.load(sys.argv[1] + "/view.npy")).max()
dr = np.abs(region.reshape(-1, region.shape[-1]).numpy() - np.load(sys.argv[1] + "/region.npy")).max()
dp = np.abs(model.pooled.numpy() - np.load(sys.argv[1] + "/pooled.npy")).max()  # what `lenspipe embed` writes
# eval's probe features: the last n blocks' pooled outputs (probe.npy [B, width], n = probe_blocks.txt)
n = int(open(sys.argv[1] + "/probe_blocks.txt").read())
with torch.no_grad():
    probe = model.forward_return_n_last_blocks(x, n)
dq = np.abs(probe.numpy() - np.load(sys.argv[1] + "/probe.npy")).max()
print("loaded", len(state), "tensors; max view diff", dv, "max region diff", dr, "max pooled diff", dp,
      "max probe-feature diff", dq, "over", probe.shape[1], "columns")
assert dv < 1e-4 and dr < 1e-4 and dp < 1e-4 and dq < 1e-4, (dv, dr, dp, dq)
