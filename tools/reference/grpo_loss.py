"""Reference GRPO losses for vrft's parity tests, with PyTorch, following TRL's GRPOTrainer
(_compute_loss and the advantage computation of _generate_and_score_completions, TRL 1.13).

For fixed per-token log-probs, old and reference log-probs, masks and rewards, every loss type ×
scale mode × (ε, ε_high) × β × μ: the advantages, the loss, and d loss / d log-probs.
Writes test/fixtures/grpo/cases.json.

    python tools/reference/grpo_loss.py
"""
import itertools
import json
from pathlib import Path

import torch

OUT = Path(__file__).resolve().parents[2] / "test" / "fixtures" / "grpo" / "cases.json"
G, PROMPTS, T, MAX_COMPLETION = 4, 2, 7, 8


def nanstd(x):
    return torch.sqrt(torch.nanmean((x - torch.nanmean(x)) ** 2) * x.numel() / (x.numel() - 1))


def advantages_of(rewards, scale):
    mean = rewards.view(-1, G).mean(dim=1).repeat_interleave(G)
    if scale in ("group", "none"):
        std = rewards.view(-1, G).std(dim=1).repeat_interleave(G)
    else:
        std = nanstd(rewards).expand_as(rewards)
    adv = rewards - mean
    if scale != "none":
        adv = adv / (std + 1e-4)
    return adv


def loss_of(logp, old, ref, mask, adv, loss_type, beta, eps, eps_high):
    coef_1 = torch.exp(logp - old)
    coef_2 = torch.clamp(coef_1, 1 - eps, 1 + eps_high)
    a = adv.unsqueeze(1)
    per_token = -torch.min(coef_1 * a, coef_2 * a)
    if beta != 0.0:
        kl = torch.exp(ref - logp) - (ref - logp) - 1
        per_token = per_token + beta * kl
    if loss_type == "grpo":
        return ((per_token * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)).mean()
    if loss_type == "bnpo":
        return (per_token * mask).sum() / mask.sum().clamp(min=1.0)
    if loss_type == "dr_grpo":
        return (per_token * mask).sum() / (per_token.size(0) * MAX_COMPLETION)
    if loss_type == "dapo":
        return (per_token * mask).sum() / mask.sum().clamp(min=1.0)
    raise ValueError(loss_type)


def main():
    gen = torch.Generator().manual_seed(0)
    cases = []
    for loss_type, scale, (eps, eps_high), beta, mu in itertools.product(
        ["grpo", "bnpo", "dr_grpo", "dapo"], ["group", "batch", "none"], [(0.2, 0.2), (0.2, 0.28)], [0.0, 0.04], [1, 2]
    ):
        B = G * PROMPTS
        lengths = torch.randint(1, T + 1, (B,), generator=gen)
        lengths[3] = 0  # a completion with no token at all
        mask = (torch.arange(T).unsqueeze(0) < lengths.unsqueeze(1)).float()
        base = -torch.rand(B, T, generator=gen) * 3
        # μ > 1: the policy has moved since sampling, far enough for ε to clip some tokens.
        old = base if mu == 1 else base + (torch.rand(B, T, generator=gen) - 0.5) * 0.8
        ref = base + (torch.rand(B, T, generator=gen) - 0.5) * 0.5
        rewards = torch.rand(B, generator=gen) * 3
        rewards[4:8] = 1.5  # a group with zero spread
        adv = advantages_of(rewards, scale)
        logp = base.clone().requires_grad_(True)
        loss = loss_of(logp, old if mu > 1 else logp.detach(), ref, mask, adv, loss_type, beta, eps, eps_high)
        (grad,) = torch.autograd.grad(loss, logp)
        cases.append({
            "lossType": loss_type, "scaleRewards": scale, "epsilon": eps, "epsilonHigh": eps_high, "beta": beta, "mu": mu,
            "groupSize": G, "maxCompletionLength": MAX_COMPLETION,
            "logProbs": base.tolist(), "oldLogProbs": old.tolist() if mu > 1 else None, "refLogProbs": ref.tolist(),
            "mask": mask.tolist(), "rewards": rewards.tolist(), "advantages": adv.tolist(),
            "loss": loss.item(), "grad": grad.tolist(),
        })
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(cases) + "\n")
    print(f"{len(cases)} cases → {OUT}")


if __name__ == "__main__":
    main()
