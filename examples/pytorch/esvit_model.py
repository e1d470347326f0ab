"""lenspipe's EsViT (Swin backbone + DINO view and region heads) in plain PyTorch, under microsoft/esvit's
state-dict names (buffers included), so a lenspipe checkpoint loads with `strict=True`:

    from esvit_model import load_checkpoint
    model, config, meta = load_checkpoint("run/final.safetensors")   # the EMA teacher, eval mode
    view_logits, region_logits = model(images)                       # images [B, C, S, S] float32
    features = model.pooled                                          # [B, D]: what `lenspipe eval`'s k-NN scores
    probe = model.forward_return_n_last_blocks(images, 4)            # what its linear probe reads

Only torch and numpy are needed (the safetensors file is parsed here). Used by probe_ddp.py (this
folder), by the interop test (Tests/helpers/load_checkpoint_torch.py) and by the training-speed baseline
(scripts/bench_train_torch.py). load_into_esvit.py loads the same file into microsoft/esvit's own classes.
"""
import json
import struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def rel_index(ws, table_ws):
    idx = torch.zeros(ws * ws, ws * ws, dtype=torch.long)
    for i in range(ws * ws):
        for j in range(ws * ws):
            idx[i, j] = (i // ws - j // ws + table_ws - 1) * (2 * table_ws - 1) + (i % ws - j % ws + table_ws - 1)
    return idx


def shift_mask(H, ws, s):
    img = torch.zeros(H, H)
    cnt = 0
    for hs in (slice(0, -ws), slice(-ws, -s), slice(-s, None)):
        for wsl in (slice(0, -ws), slice(-ws, -s), slice(-s, None)):
            img[hs, wsl] = cnt
            cnt += 1
    lab = img.view(H // ws, ws, H // ws, ws).permute(0, 2, 1, 3).reshape(-1, ws * ws)
    return torch.where(lab[:, None, :] != lab[:, :, None], -100.0, 0.0)


class Attention(nn.Module):
    def __init__(self, dim, heads, window):
        super().__init__()
        self.heads, self.window = heads, window
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window - 1) ** 2, heads))
        # A persistent buffer, as in microsoft/esvit (strict loading expects it in the state dict).
        self.register_buffer("relative_position_index", rel_index(window, window))
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(dim, hidden), nn.Linear(hidden, dim)


class Block(nn.Module):
    def __init__(self, dim, heads, window, mlp_ratio, odd):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim, eps=1e-6), nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads, window)
        self.mlp = Mlp(dim, dim * mlp_ratio)
        self.odd, self.window = odd, window

    def forward(self, x, H):
        B, L, C = x.shape
        ws = min(self.window, H)
        s = 0 if (H <= self.window or not self.odd) else self.window // 2
        h = self.norm1(x).view(B, H, H, C)
        if s:
            h = torch.roll(h, (-s, -s), (1, 2))
        w = h.view(B, H // ws, ws, H // ws, ws, C).permute(0, 1, 3, 2, 4, 5).reshape(-1, ws * ws, C)
        nh, d = self.attn.heads, C // self.attn.heads
        qkv = self.attn.qkv(w).reshape(w.shape[0], ws * ws, 3, nh, d).permute(2, 0, 3, 1, 4)
        a = (qkv[0] * d ** -0.5) @ qkv[1].transpose(-2, -1)
        index = self.attn.relative_position_index if ws == self.window else rel_index(ws, self.window)
        a = a + self.attn.relative_position_bias_table[index.view(-1)].view(ws * ws, ws * ws, nh).permute(2, 0, 1)
        if s:
            m = shift_mask(H, ws, s)
            a = (a.view(B, -1, nh, ws * ws, ws * ws) + m[None, :, None]).view(-1, nh, ws * ws, ws * ws)
        a = a.softmax(-1)
        self.attn_probs = a  # [B*nW, heads, N, N], windows by image, window row, window column
        o = (a @ qkv[2]).transpose(1, 2).reshape(-1, ws * ws, C)
        o = self.attn.proj(o).view(B, H // ws, H // ws, ws, ws, C).permute(0, 1, 3, 2, 4, 5).reshape(B, H, H, C)
        if s:
            o = torch.roll(o, (s, s), (1, 2))
        x = x + o.reshape(B, L, C)
        return x + self.mlp.fc2(F.gelu(self.mlp.fc1(self.norm2(x))))


class Merge(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.norm = nn.LayerNorm(4 * dim, eps=1e-6)
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)

    def forward(self, x, H):
        B, L, C = x.shape
        x = x.view(B, H, H, C)
        x = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], -1).view(B, -1, 4 * C)
        return self.reduction(self.norm(x))


class Stage(nn.Module):
    def __init__(self, dim, depth, heads, window, mlp_ratio, down):
        super().__init__()
        self.blocks = nn.ModuleList([Block(dim, heads, window, mlp_ratio, i % 2 == 1) for i in range(depth)])
        self.downsample = Merge(dim) if down else None


class PatchEmbed(nn.Module):
    def __init__(self, cin, dim, p):
        super().__init__()
        self.proj = nn.Conv2d(cin, dim, p, p)
        self.norm = nn.LayerNorm(dim, eps=1e-6)


class Head(nn.Module):
    def __init__(self, cin, out, hidden, bottleneck):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(cin, hidden), nn.GELU(), nn.Linear(hidden, hidden), nn.GELU(), nn.Linear(hidden, bottleneck))
        self.last_layer = nn.utils.weight_norm(nn.Linear(bottleneck, out, bias=False))  # weight_g / weight_v, as esvit

    def forward(self, x):
        return self.last_layer(F.normalize(self.mlp(x), dim=-1))


def foreground_weights(x, side, saturation_sigmas=3.0):
    """[B, side*side] token weights of lenspipe's `pooling: foreground` (MiniTrain/Kernels/ForegroundPool.swift)
    for images x [B, C, S, S]: over the channel-summed plane, sky = median, sigma = 1.4826 x MAD; a cell's
    weight is clamp((cell mean - sky) / (3 sigma), 0, 1) (cells above the sky 1 when sigma is 0), each row
    normalised to sum 1 (uniform when no cell is above the sky)."""
    plane = x.sum(1)
    flat = plane.flatten(1)
    sky = flat.quantile(0.5, dim=1)  # the mean of the two middle values for an even count, as lenspipe
    sigma = 1.4826 * (flat - sky[:, None]).abs().quantile(0.5, dim=1)
    excess = F.avg_pool2d(plane[:, None], plane.shape[-1] // side).flatten(1) - sky[:, None]
    w = torch.where(sigma[:, None] > 0, (excess / (saturation_sigmas * sigma[:, None])).clamp(0, 1), (excess > 0).to(x.dtype))
    total = w.sum(1, keepdim=True)
    return torch.where(total > 0, w / total.clamp_min(1e-30), torch.full_like(w, 1.0 / w.shape[1]))


class EsViT(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.patch = c["patch"]
        self.input_scale = c.get("inputScale", 1.0)  # lenspipe's fixed input gain (EsViTConfig.inputScale)
        self.pooling = c.get("pooling", "mean")  # EsViTConfig.pooling: mean, or foreground (foreground_weights)
        self.patch_embed = PatchEmbed(c["inChannels"], c["dim"], c["patch"])
        n = len(c["depths"])
        self.layers = nn.ModuleList([Stage(c["dim"] << i, c["depths"][i], c["heads"][i], c["window"], c["mlpRatio"], i < n - 1)
                                     for i in range(n)])
        f = c["dim"] << (n - 1)
        self.norm = nn.LayerNorm(f, eps=1e-6)
        self.head = Head(f, c["outDim"], c["hidden"], c["bottleneck"])
        self.head_dense = Head(f, c["outDim"], c["hidden"], c["bottleneck"])
        # EsViTConfig.viewHead: "standardized" heads read (pooled - mean) * inv_std, lenspipe's running
        # moments of the pooled features (load_checkpoint fills them from pool_moments.*; not in the state dict).
        self.view_head = c.get("viewHead", "pooled")
        self.register_buffer("head_mean", torch.zeros(f), persistent=False)
        self.register_buffer("head_inv_std", torch.ones(f), persistent=False)
        # EsViTConfig.pixelDecoder: SimMIM's mask token and linear pixel decoder (MiniTrain/PixelDecoder.swift),
        # under SimMIM's names: a 1x1 conv from the last stage to Cin * stride^2 channels, then PixelShuffle(stride).
        self.stride = c["patch"] << (n - 1)
        if c.get("pixelDecoder", False):
            self.mask_token = nn.Parameter(torch.zeros(1, 1, c["dim"]))
            self.decoder = nn.Sequential(nn.Conv2d(f, c["inChannels"] * self.stride ** 2, 1), nn.PixelShuffle(self.stride))
            # decoderStages 2: a second decoder of the same form reads the stage before the last (its blocks'
            # output, before the patch merging) at half the stride; the two reconstructions are added.
            if c.get("decoderStages", 1) == 2:
                self.decoder_mid = nn.Sequential(nn.Conv2d(f // 2, c["inChannels"] * (self.stride // 2) ** 2, 1),
                                                 nn.PixelShuffle(self.stride // 2))

    def forward(self, x, patch_mask=None, heads=True):
        """View and region logits. `patch_mask` [B, S/P, S/P] (1 = masked) puts the mask token in place of
        those patch embeddings, as SimMIM's encoder does (the pixel decoder then reads `self.tokens`).
        `heads=False` stops after the pooled features (SimMIM's step reads no head) and returns None."""
        images = x
        x = self.patch_embed.norm(self.patch_embed.proj(x * self.input_scale).flatten(2).transpose(1, 2))
        if patch_mask is not None:
            w = patch_mask.flatten(1).unsqueeze(-1).type_as(x)
            x = x * (1 - w) + self.mask_token * w
        H = int(round(x.shape[1] ** 0.5))
        self.stage_outputs = []  # each stage's blocks' output [B, L, C] (before its patch merging)
        self.block_outputs = []  # every block's output [B, L, C] with its map side, in order
        for st in self.layers:
            for b in st.blocks:
                x = b(x, H)
                self.block_outputs.append((x, H))
            self.stage_outputs.append(x)
            if st.downsample is not None:
                x = st.downsample(x, H)
                H //= 2
        r = self.norm(x)
        self.tokens = r  # [B, L, C], the region loss matches on these
        if self.pooling == "foreground":
            self.pooled = (r * foreground_weights(images, H)[..., None]).sum(1)
        else:
            self.pooled = r.mean(1)
        if not heads:
            return None
        head_input = self.pooled
        if self.view_head == "standardized":
            head_input = (self.pooled - self.head_mean) * self.head_inv_std
        return self.head(head_input), self.head_dense(r)

    def forward_return_n_last_blocks(self, x, n):
        """EsViT's linear-probe features (its swin_transformer.py of that name, eval_linear.py
        --n_last_blocks; lenspipe eval's probe): the pooled outputs of the last n blocks side by side,
        earliest first; blocks of the last stage go through the final norm, earlier ones are taken as they
        are (before the patch merging). The pooling is the model's (mean, or foreground per map side)."""
        self.forward(x, heads=False)
        assert 1 <= n <= len(self.block_outputs), f"{n} last blocks of a backbone with {len(self.block_outputs)}"
        last = len(self.layers[-1].blocks)
        parts = []
        for i, (t, H) in enumerate(self.block_outputs[-n:]):
            if len(self.block_outputs) - n + i >= len(self.block_outputs) - last:
                t = self.norm(t)
            if self.pooling == "foreground":
                parts.append((t * foreground_weights(x, H)[..., None]).sum(1))
            else:
                parts.append(t.mean(1))
        return torch.cat(parts, dim=-1)

    def decode(self):
        """SimMIM's pixel decoder on the last forward's final tokens (and, with decoderStages 2, the stage
        before the last): the predicted pixels [B, Cin, S, S]."""
        B, L, C = self.tokens.shape
        g = int(round(L ** 0.5))
        pred = self.decoder(self.tokens.transpose(1, 2).reshape(B, C, g, g))
        if hasattr(self, "decoder_mid"):
            mid = self.stage_outputs[-2]
            pred = pred + self.decoder_mid(mid.transpose(1, 2).reshape(B, C // 2, 2 * g, 2 * g))
        return pred

    def reconstruct(self, x, patch_mask, target=None):
        """SimMIM: the pixels [B, Cin, S, S] the decoder predicts from the masked image, and the L1 loss on
        the masked pixels (masked pixels times channels in the denominator, as SimMIM and lenspipe) against
        `target` (default: x itself; lenspipe's `mim.normalizeTarget` passes the per-block normalised x)."""
        self.forward(x, patch_mask, heads=False)
        pred = self.decode()
        m = patch_mask.repeat_interleave(self.patch, 1).repeat_interleave(self.patch, 2).unsqueeze(1).type_as(pred)
        target = x if target is None else target
        loss = ((pred - target).abs() * m).sum() / (m.sum() + 1e-5) / x.shape[1]
        return pred, loss


def normalized_target(x, block):
    """lenspipe's `mim.normalizeTarget` (MaskedImageModeling.normalizedTarget): each block x block cell of each plane of x [B, Cin, S, S], standardised (biased variance, +1e-6)."""
    B, C, S, _ = x.shape
    cells = x.reshape(B, C, S // block, block, S // block, block)
    mean = cells.mean(dim=(3, 5), keepdim=True)
    var = cells.var(dim=(3, 5), keepdim=True, unbiased=False)
    return ((cells - mean) / torch.sqrt(var + 1e-6)).reshape(B, C, S, S)


def read_safetensors(path):
    """{name: numpy array} and the `__metadata__` strings of a safetensors file (F32 and I64 tensors)."""
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    data = raw[8 + n:]
    dtypes = {"F32": np.float32, "F64": np.float64, "I64": np.int64}
    tensors = {k: np.frombuffer(data[v["data_offsets"][0]:v["data_offsets"][1]], dtypes[v["dtype"]]).reshape(v["shape"])
               for k, v in header.items()}
    return tensors, meta


def load_checkpoint(path, network="teacher"):
    """The `teacher` (or `student`) network of a lenspipe checkpoint, loaded strictly, in eval mode."""
    tensors, meta = read_safetensors(path)
    config = json.loads(meta["config"])
    model = EsViT(config)
    prefix = network + "."
    state = {k[len(prefix):]: torch.from_numpy(v.copy()) for k, v in tensors.items() if k.startswith(prefix)}
    model.load_state_dict(state, strict=True)
    if model.view_head == "standardized":
        # As MiniTrain's RunningMoments.standardizer: var = E[x^2] - E[x]^2 (at least 0), eps 1e-5, in float32.
        mean = tensors[f"pool_moments.{network}.mean"][0]
        var = np.maximum(0.0, tensors[f"pool_moments.{network}.mean_square"][0] - mean * mean)
        model.head_mean.copy_(torch.from_numpy(mean.astype(np.float32)))
        model.head_inv_std.copy_(torch.from_numpy((1.0 / np.sqrt(var + 1e-5)).astype(np.float32)))
    return model.eval(), config, meta
