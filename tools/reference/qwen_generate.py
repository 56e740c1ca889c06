"""What `vrft generate` must print, made by transformers end to end from files alone.

For each tiny checkpoint (tools/reference/qwen_tiny.py) and each question below: a PNG written here
is opened with Pillow, the prompt is the checkpoint's own chat template applied by transformers
(`apply_chat_template` with an image item then the text, generation prompt on), the image goes
through the checkpoint's image processor (the PIL one), `<|image_pad|>` is expanded as the processor
does, and `generate` decodes greedily (fp32). Also one `--template raw` case: the text given as the
whole input. Writes test/fixtures/qwen/generate/{image.png, wide.png, cases.json}: per case the
model folder, image, prompt, template, the input ids, the new token ids, their log-probs and the
decoded text (special tokens skipped).

    /work/venv/bin/python tools/reference/qwen_generate.py
"""
import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from transformers import AutoModelForImageTextToText, AutoTokenizer
from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

ROOT = Path(__file__).resolve().parents[2]
QWEN = ROOT / "test" / "fixtures" / "qwen"
OUT = QWEN / "generate"
IMAGE_PAD = 151655
NEW_TOKENS = 24


def picture(width, height, seed):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    rgb = np.stack([128 + 90 * np.sin(x / 13) * np.cos(y / 19), 255 * x / (width - 1), 255 * y / (height - 1)], -1)
    for _ in range(3):
        x0, y0 = rng.integers(0, width // 2), rng.integers(0, height // 2)
        rgb[y0:y0 + height // 3, x0:x0 + width // 4] = rng.integers(0, 256, 3)
    return Image.fromarray(np.clip(np.round(rgb), 0, 255).astype(np.uint8))


def processor_for(folder):
    pre = folder / "preprocessor_config.json"
    cfg = json.loads(pre.read_text()) if pre.exists() else json.loads((folder / "processor_config.json").read_text())["image_processor"]
    cfg = {k: v for k, v in cfg.items() if k not in ("image_processor_type", "processor_class")}
    return Qwen2VLImageProcessorPil(**cfg)


def chat_template_of(folder):
    """The template as the processor finds it: chat_template.json, then chat_template.jinja."""
    if (folder / "chat_template.json").exists():
        return json.loads((folder / "chat_template.json").read_text())["chat_template"]
    return (folder / "chat_template.jinja").read_text()


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    images = {"image.png": picture(320, 240, 7), "wide.png": picture(500, 140, 8)}
    for name, img in images.items():
        img.save(OUT / name)
    questions = [
        ("image.png", "What is in this picture? Answer in one word.", "chat"),
        ("wide.png", "Detect all objects belonging to the category 'circle' in the image.", "chat"),
        ("image.png", "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>Describe it.<|im_end|>\n"
                      "<|im_start|>assistant\n", "raw"),
    ]
    cases = []
    for family in ("qwen2-vl", "qwen2.5-vl"):
        folder = QWEN / family / "checkpoint"
        model = AutoModelForImageTextToText.from_pretrained(folder, dtype=torch.float32).eval()
        tok = AutoTokenizer.from_pretrained(folder)
        proc = processor_for(folder)
        for image_name, prompt, template in questions:
            img = Image.open(OUT / image_name).convert("RGB")
            inputs = proc(images=[img], return_tensors="pt")
            grid = inputs["image_grid_thw"][0].tolist()
            if template == "chat":
                text = tok.apply_chat_template(
                    [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": prompt}]}],
                    chat_template=chat_template_of(folder), tokenize=False, add_generation_prompt=True)
            else:
                text = prompt
            pads = grid[0] * grid[1] * grid[2] // 4
            text = text.replace("<|image_pad|>", "<|image_pad|>" * pads, 1)
            ids = tok(text, return_tensors="pt")["input_ids"]
            with torch.no_grad():
                out = model.generate(
                    input_ids=ids, attention_mask=torch.ones_like(ids), pixel_values=inputs["pixel_values"],
                    # What the processor returns beside input_ids; without it M-RoPE falls back to text positions.
                    mm_token_type_ids=(ids == IMAGE_PAD).int(),
                    image_grid_thw=inputs["image_grid_thw"], do_sample=False, max_new_tokens=NEW_TOKENS,
                    output_scores=True, return_dict_in_generate=True, eos_token_id=[151645, 151643],
                    pad_token_id=151643)
            new = out.sequences[0, ids.shape[1]:].tolist()
            # In float64: PyTorch's float32 log_softmax over 151,936 logits is itself ~1e-4 off.
            log_probs = [torch.log_softmax(s[0].double(), -1)[t].item() for s, t in zip(out.scores, new)]
            cases.append({
                "family": family, "model": f"{family}/checkpoint", "image": image_name, "prompt": prompt,
                "template": template, "inputIds": ids[0].tolist(), "tokenIds": new, "logProbs": log_probs,
                "text": tok.decode([t for t in new if t not in (151645, 151643)], skip_special_tokens=False),
                "imageGridThw": grid,
            })
            print(family, image_name, template, len(ids[0]), new[:8])
    (OUT / "cases.json").write_text(json.dumps(cases, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
