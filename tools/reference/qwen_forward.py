"""Forward-pass fixtures for vrft's Qwen2-VL / Qwen2.5-VL model, made by transformers itself.

For each tiny checkpoint (tools/reference/qwen_tiny.py) in fp32, three deterministic images go
through transformers' image processor (the PIL one: the default one imports torchvision) and the
model, and forward hooks record what test/unit/qwen/forward.test.ts compares:

  vision (all three images in one batch, so attention must stay within each image):
    pixel_values' levels, image_grid_thw, the patch embedding, every vision block's output (in the
    tower's own row order: window-permuted in Qwen2.5-VL), the merged features (un-permuted)
  prompts (chat-formatted, `<|image_pad|>` × gh·gw/4 per image):
    single  one 224×224 image          position ids, rope delta, hidden states, logits, greedy
    odd     one 300×100 image          the same
    two     640×480 and 300×100 images in one prompt (two image blocks): the same
    padded  single and odd as one left-padded batch with an attention mask: position ids, rope
            deltas, last logits, batched greedy decoding

Files (small: pixel levels are stored once, as exact F16 integers, without the duplicated frame):
  test/fixtures/qwen/pixels.safetensors        `levels` [rows, C·p·p]: the resized uint8 image in
                                               the processor's patch order (frame 0 of T)
  test/fixtures/qwen/<family>/forward.safetensors   float tensors
  test/fixtures/qwen/<family>/forward.json          ids, grids, positions, greedy tokens, log-probs

The processor's pixel value is f32((f32(level·(1/255)) − f32(mean)) / f32(std)) (numpy's
rescale in float64 then cast, normalize in float32); this script asserts that the levels rebuild
transformers' pixel_values bit for bit.

    /work/venv/bin/python tools/reference/qwen_forward.py
"""
import json
from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import save_file
from tokenizers import Tokenizer
from transformers import Qwen2_5_VLForConditionalGeneration, Qwen2VLForConditionalGeneration
from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "test" / "fixtures" / "qwen"
IMAGE_PAD, EOS = 151655, [151645, 151643]
NEW_TOKENS = 20
PROMPTS = {
    "single": "What is in this picture? Answer in one word.",
    "odd": "Please provide the bounding box coordinate of the region this sentence describes: the red "
    "square left of the blue triangle. Output the final answer in JSON format.",
    "two": "Detect all objects belonging to the category 'circle' in the image, and provide the bounding "
    "boxes (between 0 and 1000, integer) and confidence (between 0 and 1, with two decimal places). "
    "Output the thinking process in <think> </think> and final answer in <answer> </answer> tags.",
}


def image(width, height, seed):
    """A deterministic RGB picture: smooth gradients, a few flat rectangles and some noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    rgb = np.stack([
        128 + 100 * np.sin(x / (17 + seed)) * np.cos(y / 23),
        255 * x / max(1, width - 1),
        255 * y / max(1, height - 1),
    ], axis=-1)
    for _ in range(4):
        x0, y0 = rng.integers(0, width // 2), rng.integers(0, height // 2)
        rgb[y0:y0 + height // 3, x0:x0 + width // 3] = rng.integers(0, 256, 3)
    rgb += rng.normal(0, 12, rgb.shape)
    return np.clip(np.round(rgb), 0, 255).astype(np.uint8)


# (width, height) — 224² (merged grid 8×8: window padding of a whole extra window), 640×480
# (17×23: windows cut on both axes), 300×100 (an odd aspect: 4×11).
IMAGES = [image(224, 224, 1), image(640, 480, 2), image(300, 100, 3)]


def processor_for(folder):
    pre = folder / "preprocessor_config.json"
    if pre.exists():
        cfg = json.loads(pre.read_text())
    else:
        cfg = json.loads((folder / "processor_config.json").read_text())["image_processor"]
    cfg = {k: v for k, v in cfg.items() if k not in ("image_processor_type", "processor_class")}
    return Qwen2VLImageProcessorPil(**cfg)


def levels_of(proc, img):
    """The resized uint8 image in the processor's patch order, one frame: [rows, C·p·p]."""
    no_norm = proc(images=[img], do_rescale=False, do_normalize=False, return_tensors="np")
    rows = no_norm["pixel_values"].astype(np.float32)
    c, t, p = 3, proc.temporal_patch_size, proc.patch_size
    rows = rows.reshape(rows.shape[0], c, t, p * p)
    assert np.array_equal(rows[:, :, 0], rows[:, :, 1])
    assert np.array_equal(rows, np.round(rows)) and rows.min() >= 0 and rows.max() <= 255
    return rows[:, :, 0].reshape(rows.shape[0], c * p * p)


def pixels_from_levels(levels, proc):
    """What vrft's test rebuilds: the processor's arithmetic on the levels, frame duplicated."""
    c, t, p = 3, proc.temporal_patch_size, proc.patch_size
    mean = np.array(proc.image_mean, dtype=np.float32)[None, :, None]
    std = np.array(proc.image_std, dtype=np.float32)[None, :, None]
    scaled = (levels.reshape(-1, c, p * p).astype(np.float64) * (1 / 255)).astype(np.float32)
    values = ((scaled - mean) / std).astype(np.float32)
    return np.repeat(values[:, :, None, :], t, axis=2).reshape(-1, c * t * p * p)


def tokens(tok, grids, text):
    """Chat-formatted ids: system, the user turn with one image block per grid, the text."""
    ids = tok.encode("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n").ids
    for _, gh, gw in grids:
        ids += tok.encode("<|vision_start|>").ids + [IMAGE_PAD] * (gh * gw // 4)
        ids += tok.encode("<|vision_end|>").ids
    return ids + tok.encode(text + "<|im_end|>\n<|im_start|>assistant\n").ids


def log_softmax(logits):
    """In float64: PyTorch's float32 log_softmax over 151,936 logits is itself off by up to ~1e-4."""
    return torch.log_softmax(logits.double(), -1)


def f32(t):
    return np.ascontiguousarray(t.detach().to(torch.float32).numpy())


def run(family, model_class):
    folder = FIXTURES / family / "checkpoint"
    model = model_class.from_pretrained(folder, dtype=torch.float32).eval()
    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    proc = processor_for(folder)
    head = model.lm_head.weight.detach()
    # Logits are stored whole for one row; other rows keep only the columns where the checkpoint's
    # lm_head row is non-zero (qwen_tiny.py zeroes the rest, so their logits are exactly 0).
    columns = torch.nonzero(head.abs().sum(-1) > 0).flatten()
    tensors, meta = {}, {"family": family, "columns": columns.tolist()}

    # Vision: the three images as one batch.
    batch = proc(images=IMAGES, return_tensors="pt")
    pixels, grids = batch["pixel_values"].to(torch.float32), batch["image_grid_thw"]
    levels = np.concatenate([levels_of(proc, img) for img in IMAGES])
    rebuilt = pixels_from_levels(levels, proc)
    assert np.array_equal(rebuilt, pixels.numpy()), "the levels must rebuild the processor's pixel values exactly"
    meta["grids"] = grids.tolist()
    visual = model.model.visual
    records = {}
    hooks = [visual.patch_embed.register_forward_hook(lambda m, i, o: records.__setitem__("patch_embed", o))]
    for n, block in enumerate(visual.blocks):
        hooks.append(block.register_forward_hook(lambda m, i, o, n=n: records.__setitem__(f"block.{n}", o)))
    with torch.no_grad():
        merged = visual(pixels, grid_thw=grids).pooler_output
    for h in hooks:
        h.remove()
    tensors["vision.patch_embed"] = f32(records["patch_embed"])
    for n in range(len(visual.blocks)):
        tensors[f"vision.blocks.{n}"] = f32(records[f"block.{n}"])
    tensors["vision.merged"] = f32(merged)
    features = torch.split(merged, (grids.prod(-1) // 4).tolist())
    by_image = torch.split(pixels, grids.prod(-1).tolist())

    def pixel_rows(i):
        return by_image[i]

    def prompt(name, images):
        g = [meta["grids"][i] for i in images]
        return tokens(tok, g, PROMPTS[name]), g, torch.cat([features[i] for i in images])

    cases = {"single": [0], "odd": [2], "two": [1, 2]}
    for name, images in cases.items():
        ids, g, _ = prompt(name, images)
        pv = torch.cat([pixel_rows(i) for i in images])
        inputs = dict(
            input_ids=torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
            pixel_values=pv, image_grid_thw=torch.tensor(g),
            mm_token_type_ids=(torch.tensor([ids]) == IMAGE_PAD).int(),
        )
        with torch.no_grad():
            positions, deltas = model.model.get_rope_index(
                inputs["input_ids"], inputs["mm_token_type_ids"], image_grid_thw=inputs["image_grid_thw"],
                attention_mask=inputs["attention_mask"])
            out = model(**inputs, output_hidden_states=True)
            gen = model.generate(**inputs, do_sample=False, max_new_tokens=NEW_TOKENS, eos_token_id=EOS,
                                 pad_token_id=EOS[1], output_logits=True, return_dict_in_generate=True)
        logits = out.logits[0]
        n = len(ids)
        first_image = ids.index(IMAGE_PAD)
        at = [0, first_image, n - 2]
        new = gen.sequences[0, n:].tolist()
        steps = torch.stack(gen.logits, 0)[:, 0]
        logprobs = log_softmax(steps)
        chosen = logprobs[torch.arange(len(new)), torch.tensor(new)]
        top2 = steps.topk(2, -1).values
        # The first step of greedy decoding is the prompt's last logits.
        assert torch.allclose(steps[0], logits[-1], atol=1e-4)
        tensors[f"{name}.hidden"] = f32(out.hidden_states[-1][0])
        # One whole row (the zero columns included); elsewhere the non-zero columns.
        tensors[f"{name}.logits_last"] = f32(logits[-1:] if name == "single" else logits[-1:, columns])
        tensors[f"{name}.logits_at"] = f32(logits[at][:, columns])
        if name == "single":
            tensors[f"{name}.greedy_logits"] = f32(steps[:, columns])
            tensors[f"{name}.layer0"] = f32(out.hidden_states[1][0])  # the first decoder layer's output
        meta[name] = dict(
            input_ids=ids, images=images, positions=positions[:, 0].tolist(), rope_delta=int(deltas[0, 0]),
            logits_at=at, greedy=new, greedy_logprobs=chosen.tolist(),
            greedy_min_margin=float((top2[:, 0] - top2[:, 1]).min()),
        )
        print(family, name, "tokens", n, "delta", int(deltas[0, 0]), "greedy", new,
              "min margin %.4f" % meta[name]["greedy_min_margin"])

    # Left-padded batch of two prompts (single, odd).
    rows = [prompt("single", [0])[0], prompt("odd", [2])[0]]
    width = max(len(r) for r in rows)
    ids = torch.tensor([[EOS[1]] * (width - len(r)) + r for r in rows])
    mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows])
    grid_rows = [meta["grids"][0], meta["grids"][2]]
    pv = torch.cat([pixel_rows(0), pixel_rows(2)])
    inputs = dict(input_ids=ids, attention_mask=mask, pixel_values=pv, image_grid_thw=torch.tensor(grid_rows),
                  mm_token_type_ids=(ids == IMAGE_PAD).int())
    with torch.no_grad():
        positions, deltas = model.model.get_rope_index(ids, inputs["mm_token_type_ids"],
                                                       image_grid_thw=inputs["image_grid_thw"], attention_mask=mask)
        out = model(**inputs)
        gen = model.generate(**inputs, do_sample=False, max_new_tokens=NEW_TOKENS, eos_token_id=EOS,
                             pad_token_id=EOS[1], output_logits=True, return_dict_in_generate=True)
    steps = torch.stack(gen.logits, 0)  # [steps, rows, vocab]
    tensors["padded.logits_last"] = f32(out.logits[:, -1][:, columns])
    meta["padded"] = dict(
        input_ids=ids.tolist(), attention_mask=mask.tolist(), positions=positions.tolist(),
        rope_deltas=deltas[:, 0].tolist(), greedy=gen.sequences[:, width:].tolist(),
        greedy_logprobs=[[float(log_softmax(steps[s, r])[t]) for s, t in enumerate(gen.sequences[r, width:])]
                         for r in range(2)],
    )
    print(family, "padded deltas", meta["padded"]["rope_deltas"], "greedy", meta["padded"]["greedy"])

    out_dir = FIXTURES / family
    save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, out_dir / "forward.safetensors")
    (out_dir / "forward.json").write_text(json.dumps(meta))
    return levels


def main():
    levels = run("qwen2-vl", Qwen2VLForConditionalGeneration)
    levels2 = run("qwen2.5-vl", Qwen2_5_VLForConditionalGeneration)
    assert np.array_equal(levels, levels2)
    save_file({"levels": levels.astype(np.float16)}, FIXTURES / "pixels.safetensors")


if __name__ == "__main__":
    torch.manual_seed(0)
    main()
