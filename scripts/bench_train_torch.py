"""PyTorch eager baseline for `lenspipe train`'s speed: the same network (examples/pytorch/esvit_model.py),
the same batch and the same step as the recipe's objective, on synthetic crops, on the given threads.

--objective simmim (the default recipe's): B images x 2 global crops of 64 px; 60% of the 8 px blocks
  masked; student forward with the mask token, the linear pixel decoder, L1 on the masked pixels against
  the per-block normalised target; clipping, AdamW, EMA teacher.
--objective esvit (EsViT's, `loss.view`/`loss.region` 0.5, 4 local crops): + 4 local crops of 32 px;
  teacher forward without grad, student forward on both resolutions, view + region loss with the
  argmax-cosine token matching, clipping, AdamW, EMA teacher, centres.

python3 scripts/bench_train_torch.py [--objective simmim] [--steps 8] [--batch 32] [--threads 2] [--dim 32]
Prints one JSON line: step_s (median after the first step) and images_per_s.
"""
import argparse, json, os, sys, time, warnings
warnings.filterwarnings("ignore")
import torch
import torch.nn.functional as F
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples", "pytorch"))
from esvit_model import EsViT, normalized_target  # noqa: E402


def esvit_loss(student, teacher, center, center_grid, tt=0.04, ts=0.1):
    """student: [(view [n*B, K], region [n*B, L, K], tokens [n*B, L, C])] per resolution group
    (crop-major); teacher: the same for the 2 global crops."""
    tv, tr, tf = teacher
    B = tv.shape[0] // 2
    q = F.softmax((tv - center) / tt, -1).chunk(2)
    Q = F.softmax((tr - center_grid) / tt, -1).chunk(2)
    tfn = F.normalize(tf, dim=-1).chunk(2)
    total, pairs = 0.0, 0
    crops = []
    for sv, sr, sf in student:
        n = sv.shape[0] // B
        crops += list(zip(sv.chunk(n), sr.chunk(n), F.normalize(sf, dim=-1).chunk(n)))
    for v, (sv, sr, sf) in enumerate(crops):
        for a in range(2):
            if a == v:
                continue
            lv = torch.sum(-q[a] * F.log_softmax(sv / ts, -1), -1).mean()
            best = torch.bmm(sf, tfn[a].transpose(1, 2)).argmax(-1)  # [B, L_student]
            target = torch.gather(Q[a], 1, best[..., None].expand(-1, -1, Q[a].shape[-1]))
            lr = torch.sum(-target * F.log_softmax(sr / ts, -1), -1).mean()
            total = total + 0.5 * lv + 0.5 * lr
            pairs += 1
    return total / pairs


def run(model, crops):
    view, region = model(crops)
    return view, region, model.tokens


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dim", type=int, default=32)
    ap.add_argument("--objective", choices=["simmim", "esvit"], default="simmim")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    config = dict(inChannels=1, patch=4, dim=a.dim, depths=[2, 2, 2], heads=[a.dim // 16, a.dim // 8, a.dim // 4], window=4,
                  mlpRatio=4, outDim=1024, hidden=256, bottleneck=64, pixelDecoder=a.objective == "simmim")
    student, teacher = EsViT(config), EsViT(config)
    teacher.load_state_dict(student.state_dict())
    for p in teacher.parameters():
        p.requires_grad = False
    opt = torch.optim.AdamW([p for n, p in student.named_parameters() if not n.endswith("weight_g")], lr=1e-4, weight_decay=0.04)
    K = config["outDim"]
    center, center_grid = torch.zeros(1, K), torch.zeros(1, 1, K)
    B = a.batch
    g = torch.randn(2 * B, 1, 64, 64)
    loc = torch.randn(4 * B, 1, 32, 32)
    times = []
    # SimMIM's mask: 60% of the 8 px blocks (2 x 2 patches of 4 px), drawn per crop.
    blocks = (64 // 8) ** 2
    for _ in range(a.steps):
        t0 = time.perf_counter()
        if a.objective == "simmim":
            keep = torch.rand(2 * B, blocks).argsort(1) < int(0.6 * blocks)
            mask = keep.reshape(2 * B, 8, 8).repeat_interleave(2, 1).repeat_interleave(2, 2)
            _, loss = student.reconstruct(g, mask, target=normalized_target(g, 8))
        else:
            with torch.no_grad():
                t_out = run(teacher, g)
            s_out = [run(student, g), run(student, loc)]
            loss = esvit_loss(s_out, t_out, center, center_grid)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(student.parameters(), 3.0)
        opt.step()
        with torch.no_grad():
            for ps, pt in zip(student.parameters(), teacher.parameters()):
                pt.mul_(0.996).add_(ps.detach(), alpha=0.004)
            if a.objective == "esvit":
                center.mul_(0.9).add_(t_out[0].mean(0, keepdim=True), alpha=0.1)
                center_grid.mul_(0.9).add_(t_out[1].mean((0, 1), keepdim=True), alpha=0.1)
        times.append(time.perf_counter() - t0)
    rest = sorted(times[1:])
    med = rest[len(rest) // 2]
    print(json.dumps(dict(impl="pytorch-eager", objective=a.objective, torch=torch.__version__, dim=a.dim, batch=B, threads=a.threads,
                          step_s=round(med, 4), images_per_s=round(B / med, 1), loss=loss.item())))


if __name__ == "__main__":
    main()
