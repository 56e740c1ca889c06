"""tiny-vlm's architecture in PyTorch, for bench/train-step: the same shapes, the same training
step (forward, cross-entropy on the target positions, backward, AdamW), timed on the CPU.

    python tools/reference/tiny_vlm_torch.py --batch 8 --prompt 6 --completion 90 [--threads N]

Prints one JSON line: {"ms_per_step": …, "threads": …, "parameters": …}.
"""
import argparse
import json
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, d, heads, mlp_ratio):
        super().__init__()
        self.heads = heads
        self.ln_1 = nn.LayerNorm(d)
        self.q_proj, self.k_proj, self.v_proj, self.o_proj = (nn.Linear(d, d) for _ in range(4))
        self.ln_2 = nn.LayerNorm(d)
        self.fc = nn.Linear(d, d * mlp_ratio)
        self.proj = nn.Linear(d * mlp_ratio, d)

    def forward(self, x, mask):
        b, s, d = x.shape
        h = self.ln_1(x)
        split = lambda t: t.view(b, s, self.heads, d // self.heads).transpose(1, 2)
        q, k, v = split(self.q_proj(h)), split(self.k_proj(h)), split(self.v_proj(h))
        att = (q @ k.transpose(-1, -2)) / math.sqrt(d // self.heads)
        if mask is not None:
            att = att + mask
        y = (att.softmax(-1) @ v).transpose(1, 2).reshape(b, s, d)
        x = x + self.o_proj(y)
        return x + self.proj(F.gelu(self.fc(self.ln_2(x)), approximate="tanh"))


class TinyVlm(nn.Module):
    def __init__(self, image_size=64, patch_size=8, d=128, heads=4, layers=3, vision_layers=1, mlp_ratio=4, vocab=1227, positions=224, stem="patch"):
        super().__init__()
        self.patches = (image_size // patch_size) ** 2
        self.image_size = image_size
        if stem == "cnn":
            # As convStemLayers: per halving a 3×3 stride-2 and a 3×3 stride-1 layer, channels
            # doubling from 32, one more 3×3, then 1×1 to dModel.
            steps = int(math.log2(patch_size))
            shape = [(3, 2, 32)]
            for i in range(1, steps):
                shape += [(3, 1, 32 * 2**i), (3, 2, 32 * 2**i)]
            shape += [(3, 1, 32 * 2 ** (steps - 1)), (1, 1, d)]
            channels, convs = 3, []
            for k, stride, out in shape:
                convs.append(nn.Conv2d(channels, out, k, stride=stride, padding=k // 2))
                channels = out
            self.stem = nn.ModuleList(convs)
        elif stem in ("conv", "conv-s2"):
            # As convStemLayers: 3×3 at full size, 3×3 stride-2 steps, a 2×2 stride-2 to dModel;
            # conv-s2 strides the first layer and not the last 3×3 one.
            channels, convs = 3, []
            steps = int(math.log2(patch_size))
            for i in range(steps):
                out = 32 if i == 0 else min(32 * 2 ** (i - 1), d)
                if stem == "conv-s2":
                    stride = 2 if i < steps - 1 else 1
                else:
                    stride = 1 if i == 0 else 2
                convs.append(nn.Conv2d(channels, out, 3, stride=stride, padding=1))
                channels = out
            convs.append(nn.Conv2d(channels, d, 2, stride=2))
            self.stem = nn.ModuleList(convs)
        else:
            self.stem = None
            self.patch_embed = nn.Linear(patch_size * patch_size * 3, d)
        self.pos_embed = nn.Parameter(torch.randn(self.patches, d) * 0.02)
        self.vision = nn.ModuleList(Block(d, heads, mlp_ratio) for _ in range(vision_layers))
        self.ln_post = nn.LayerNorm(d)
        self.embed_tokens = nn.Parameter(torch.randn(vocab, d) * 0.02)
        self.register_buffer("number_code", torch.randn(vocab, d) * 0.1)
        self.embed_positions = nn.Parameter(torch.randn(positions, d) * 0.02)
        self.layers = nn.ModuleList(Block(d, heads, mlp_ratio) for _ in range(layers))
        self.ln_f = nn.LayerNorm(d)

    def forward(self, patches, tokens, target_rows):
        b = patches.shape[0]
        if self.stem is not None:
            x = patches.view(b, self.image_size, self.image_size, 3).permute(0, 3, 1, 2)
            for i, conv in enumerate(self.stem):
                x = conv(x)
                if i < len(self.stem) - 1:
                    x = F.gelu(x, approximate="tanh")
            x = x.flatten(2).transpose(1, 2) + self.pos_embed
        else:
            x = self.patch_embed(patches) + self.pos_embed
        for block in self.vision:
            x = block(x, None)
        table = self.embed_tokens + self.number_code
        h = torch.cat([self.ln_post(x), table[tokens]], 1)
        s = h.shape[1]
        h = h + self.embed_positions[:s]
        mask = torch.full((s, s), -1e9).triu(1)
        for block in self.layers:
            h = block(h, mask)
        h = self.ln_f(h.reshape(b * s, -1)[target_rows])
        return h @ table.t()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--prompt", type=int, default=6)
    p.add_argument("--completion", type=int, default=90)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--stem", choices=["patch", "conv", "conv-s2", "cnn"], default="patch")
    p.add_argument("--vision-layers", type=int, default=1)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = TinyVlm(stem=args.stem, vision_layers=args.vision_layers)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    b, length = args.batch, args.prompt + args.completion
    patches = torch.randn(b, model.patches, 192)
    tokens = torch.randint(0, 1227, (b, length))
    s = model.patches + length
    rows = torch.tensor([r * s + model.patches + args.prompt - 1 + j for r in range(b) for j in range(args.completion)])
    targets = torch.randint(0, 1227, (len(rows),))

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(patches, tokens, rows), targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    for _ in range(3):
        step()
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    ms = (time.perf_counter() - start) * 1000 / args.steps
    print(json.dumps({"ms_per_step": ms, "threads": torch.get_num_threads(), "parameters": sum(p.numel() for p in model.parameters())}))


if __name__ == "__main__":
    main()
