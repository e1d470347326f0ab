"""Loads a lenspipe checkpoint into microsoft/esvit's own classes (`SwinTransformer` + two `DINOHead`s,
as main_esvit.py builds them) with `load_state_dict(strict=True)`, and checks that esvit's forward gives
the features and logits of esvit_model.py (this folder) on the same images.

    git clone https://github.com/microsoft/esvit
    python3 load_into_esvit.py --esvit esvit run/final.safetensors [--network teacher]

Only esvit's two model files are executed (models/swin_transformer.py, models/vision_transformer.py),
so its training dependencies are not needed. They import three helpers from timm and from esvit's
utils.py (DropPath, to_2tuple, trunc_normal_); when timm is not installed, minimal equivalents are
put in its place (inference does not use them: DropPath is the identity in eval mode and trunc_normal_
only initialises weights that the checkpoint then overwrites).

esvit shrinks a stage's window to the map when the map is smaller than the window (and its relative
position table with it); lenspipe keeps the full table. Strict loading therefore needs every stage's
map at the checkpoint's image size to be at least `window` tokens wide (true for the defaults:
64 px, patch 4, window 4 -> maps 16, 8, 4).
"""
import argparse
import importlib.util
import json
import math
import os
import sys
import types
from functools import partial

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from esvit_model import load_checkpoint, read_safetensors  # noqa: E402


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0):
    with torch.no_grad():
        return tensor.normal_(mean, std).clamp_(a, b)


class DropPath(nn.Module):
    def __init__(self, drop_prob=None):
        super().__init__()
        self.drop_prob = drop_prob

    def forward(self, x):
        return x  # eval mode: stochastic depth is the identity


def install_shims():
    """Minimal `timm.models.layers` and `utils` modules, only where the real ones are missing."""
    try:
        import timm.models.layers  # noqa: F401
    except ImportError:
        layers = types.ModuleType("timm.models.layers")
        layers.DropPath, layers.trunc_normal_ = DropPath, trunc_normal_
        layers.to_2tuple = lambda x: tuple(x) if isinstance(x, (tuple, list)) else (x, x)
        timm = types.ModuleType("timm")
        models = types.ModuleType("timm.models")
        timm.models, models.layers = models, layers
        sys.modules.update({"timm": timm, "timm.models": models, "timm.models.layers": layers})
    if "utils" not in sys.modules:
        utils = types.ModuleType("utils")
        utils.trunc_normal_ = trunc_normal_
        sys.modules["utils"] = utils


def esvit_module(esvit, name):
    """Executes esvit's models/NAME.py as the module `esvit_models.NAME` (registry stubbed)."""
    package = sys.modules.setdefault("esvit_models", types.ModuleType("esvit_models"))
    package.__path__ = [os.path.join(esvit, "models")]
    registry = types.ModuleType("esvit_models.registry")
    registry.register_model = lambda f: f
    sys.modules["esvit_models.registry"] = registry
    spec = importlib.util.spec_from_file_location("esvit_models." + name, os.path.join(esvit, "models", name + ".py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", help="a lenspipe checkpoint (RUN/final.safetensors)")
    p.add_argument("--esvit", required=True, help="a checkout of github.com/microsoft/esvit")
    p.add_argument("--network", default="teacher", choices=["teacher", "student"])
    args = p.parse_args()
    install_shims()
    swin = esvit_module(args.esvit, "swin_transformer")
    vit = esvit_module(args.esvit, "vision_transformer")

    tensors, meta = read_safetensors(args.checkpoint)
    c = json.loads(meta["config"])
    size = json.loads(meta["recipe"])["views"]["global"][0]["size"] if "recipe" in meta else 64
    model = swin.SwinTransformer(img_size=size, patch_size=c["patch"], in_chans=c["inChannels"], num_classes=0,
                                 embed_dim=c["dim"], depths=c["depths"], num_heads=c["heads"], window_size=c["window"],
                                 mlp_ratio=c["mlpRatio"], drop_path_rate=0.0, use_dense_prediction=True,
                                 norm_layer=partial(nn.LayerNorm, eps=c["layerNormEps"]))
    features = model.num_features
    model.head = vit.DINOHead(features, c["outDim"], hidden_dim=c["hidden"], bottleneck_dim=c["bottleneck"])
    model.head_dense = vit.DINOHead(features, c["outDim"], hidden_dim=c["hidden"], bottleneck_dim=c["bottleneck"])
    prefix = args.network + "."
    state = {k[len(prefix):]: torch.from_numpy(v.copy()) for k, v in tensors.items() if k.startswith(prefix)}
    model.load_state_dict(state, strict=True)
    model.eval()

    ours, _, _ = load_checkpoint(args.checkpoint, args.network)
    x = torch.from_numpy(np.random.default_rng(0).standard_normal((4, c["inChannels"], size, size)).astype(np.float32))
    with torch.no_grad():
        # lenspipe multiplies the pixels by the config's inputScale before the patch embedding.
        pooled, tokens = model.forward_features(x * c.get("inputScale", 1.0))
        view, region = model.head(pooled), model.head_dense(tokens)
        view_ours, region_ours = ours(x)
    diffs = {"pooled": float((pooled - ours.pooled).abs().max()), "view_logits": float((view - view_ours).abs().max()),
             "region_logits": float((region - region_ours).abs().max())}
    print(json.dumps({"strict_load": True, "tensors": len(state), "image_size": size, "max_abs_diff": diffs}))
    if max(diffs.values()) > 1e-4 * max(1.0, math.sqrt(c["outDim"])):
        sys.exit("esvit's forward differs from esvit_model.py: " + json.dumps(diffs))


if __name__ == "__main__":
    main()
