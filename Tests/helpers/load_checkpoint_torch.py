"""Loads a lenspipe EsViT checkpoint (safetensors) into a PyTorch model with microsoft/esvit's
state-dict names and compares its logits with lenspipe's.

python3 load_checkpoint_torch.py DIR   (DIR has model.safetensors, input.npy, view.npy, region.npy, pooled.npy)

The safetensors file is parsed with numpy (format: u64 header size, JSON header, raw tensors), so only
torch and numpy are needed. The teacher weights are loaded with strict=True after stripping "teacher.".
"""
import json, os, struct, sys
import numpy as np
import torch
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from esvit_torch import EsViT  # noqa: E402


def read_safetensors(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__")
    data = raw[8 + n:]
    dtypes = {"F32": np.float32, "I64": np.int64}
    tensors = {k: np.frombuffer(data[v["data_offsets"][0]:v["data_offsets"][1]], dtypes[v["dtype"]]).reshape(v["shape"])
               for k, v in header.items()}
    return tensors, meta


tensors, meta = read_safetensors(sys.argv[1] + "/model.safetensors")
config = json.loads(meta["config"])
model = EsViT(config)
state = {k[len("teacher."):]: torch.from_numpy(v.copy()) for k, v in tensors.items() if k.startswith("teacher.")}
model.load_state_dict(state, strict=True)
x = torch.from_numpy(np.load(sys.argv[1] + "/input.npy"))
with torch.no_grad():
    view, region = model(x)
dv = np.abs(view.numpy() - np.load(sys.argv[1] + "/view.npy")).max()
dr = np.abs(region.reshape(-1, region.shape[-1]).numpy() - np.load(sys.argv[1] + "/region.npy")).max()
dp = np.abs(model.pooled.numpy() - np.load(sys.argv[1] + "/pooled.npy")).max()  # what `lenspipe embed` writes
print("loaded", len(state), "tensors; max view diff", dv, "max region diff", dr, "max pooled diff", dp)
assert dv < 1e-4 and dr < 1e-4 and dp < 1e-4, (dv, dr, dp)
