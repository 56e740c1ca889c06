"""Reference AdamW steps for vrft's optimiser parity test, with PyTorch: torch.optim.AdamW with
two parameter groups as HF Trainer forms them (matrices decay, biases and norms do not), the
gradients clipped by torch.nn.utils.clip_grad_norm_ before each step, and a learning rate per step.
Writes test/fixtures/optimizer/adamw.json: the start weights, each step's gradients, learning rate
and norm before clipping, and the weights and moments after the last step.

    python tools/reference/adamw.py
"""
import json
from pathlib import Path

import torch

OUT = Path(__file__).resolve().parents[2] / "test" / "fixtures" / "optimizer" / "adamw.json"
SHAPES = {"decoder.layers.0.mlp.fc1.weight": (3, 4), "decoder.layers.0.mlp.fc1.bias": (4,), "ln_f.weight": (4,)}
LRS = [0.0, 5e-3, 1e-2, 1e-2, 4e-3, 1e-3]
MAX_NORM = 1.0
WEIGHT_DECAY = 0.1


def main():
    gen = torch.Generator().manual_seed(7)
    params = {n: torch.nn.Parameter(torch.randn(s, generator=gen)) for n, s in SHAPES.items()}
    start = {n: p.detach().flatten().tolist() for n, p in params.items()}
    decay = [p for n, p in params.items() if p.dim() == 2]
    rest = [p for n, p in params.items() if p.dim() != 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": WEIGHT_DECAY}, {"params": rest, "weight_decay": 0.0}],
        lr=LRS[0], betas=(0.9, 0.999), eps=1e-8,
    )
    steps = []
    for k, lr in enumerate(LRS):
        # Small gradients some steps, large ones (clipped) others.
        size = 0.05 if k % 2 else 3.0
        grads = {n: torch.randn(s, generator=gen) * size for n, s in SHAPES.items()}
        for n, p in params.items():
            p.grad = grads[n].clone()
        norm = torch.nn.utils.clip_grad_norm_(list(params.values()), MAX_NORM)
        for group in opt.param_groups:
            group["lr"] = lr
        opt.step()
        steps.append({"lr": lr, "grads": {n: g.flatten().tolist() for n, g in grads.items()}, "norm": norm.item()})
    end = {n: p.detach().flatten().tolist() for n, p in params.items()}
    moments = {n: {"m": opt.state[p]["exp_avg"].flatten().tolist(), "v": opt.state[p]["exp_avg_sq"].flatten().tolist()} for n, p in params.items()}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({
        "torch": torch.__version__, "maxNorm": MAX_NORM, "weightDecay": WEIGHT_DECAY,
        "shapes": SHAPES, "start": start, "steps": steps, "end": end, "moments": moments,
    }) + "\n")


if __name__ == "__main__":
    main()
