"""One step of lenspipe's pre-training recipe in PyTorch (examples/pytorch/pretrain_ddp.py): the
recipe's terms (SimMIM's; EsViT's view, region and masked-token terms), gradients averaged over the
processes, lenspipe's AdamW and EMA, then the centres and running moments from the whole batch. The
masks, schedules and views come from lenspipe's own code (`lenspipe.run.TrainingPlan`)."""
import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn

from esvit_model import normalized_target


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


def entropy_sum(p):
    """The summed per-row entropies, in nats, of probability rows [..., K]."""
    p = p.double()
    return -(p * p.clamp_min(1e-30).log()).sum()


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
    # Without EsViT's terms no teacher runs: its entropies are 0, as lenspipe train records them.
    metrics.update({k: 0.0 for k in ("teacher_entropy_view", "teacher_entropy_view_mean", "teacher_entropy_region", "teacher_entropy_region_mean")})
    features = out["global"][3].detach()
    if esvit:
        with torch.no_grad():
            m = hyper["centerMomentum"]
            # One reduction: the teacher's logit sums (centres), target sums and target entropies (metrics).
            sums = all_sum(torch.cat([teacher[0].double().sum(0), teacher[1].double().sum((0, 1)),
                                      q.double().sum(0), Q.double().reshape(-1, Q.shape[-1]).sum(0),
                                      torch.stack([entropy_sum(q), entropy_sum(Q)])]), world)
            K, Ng = q.shape[-1], Q.shape[1]
            view_mean, region_mean = sums[:K] / (G * B), sums[K:2 * K] / (G * B * Ng)
            state.center = (m * state.center + (1 - m) * view_mean.float().cpu().numpy()[None]).astype(np.float32)
            state.center_grid = (m * state.center_grid + (1 - m) * region_mean.float().cpu().numpy()[None]).astype(np.float32)
            metrics["teacher_entropy_view"] = float(sums[4 * K]) / (G * B)
            metrics["teacher_entropy_region"] = float(sums[4 * K + 1]) / (G * B * Ng)
            for key, total, rows in (("teacher_entropy_view_mean", sums[2 * K:3 * K], G * B), ("teacher_entropy_region_mean", sums[3 * K:4 * K], G * B * Ng)):
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
    if world > 1:  # the whole batch's rows, as `lenspipe train`'s feature_std and effective_rank read
        parts = [torch.empty_like(features) for _ in range(world)]
        dist.all_gather(parts, features.contiguous())
        features = torch.cat(parts)
    return metrics, features, values
