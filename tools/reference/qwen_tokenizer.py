"""What loading a Qwen folder must give, as transformers 5.18 gives it: tokenizer ids, the rendered
chat template, input ids after the processor's <|image_pad|> expansion, the image processor's
settings, and checksums of the weights as transformers loads them in float32.

For each tiny checkpoint folder (tools/reference/qwen_tiny.py; the BF16 sharded copy included):
- `encode`: AutoTokenizer's ids (no special tokens added) for texts that exercise the byte-level BPE:
  ASCII, digits and boxes, unicode / emoji / CJK, whitespace runs, special tokens inline;
- `chats`: the chat template as the processor resolves it (ProcessorMixin.get_processor_dict:
  chat_template.json, else chat_template.jinja) applied by the tokenizer's apply_chat_template to
  image + text conversations, with and without a system turn, add_generation_prompt on and off; the
  rendered text and its ids;
- `expanded`: full input_ids for images of grid [1, 34, 46] (and [1, 16, 16], and two images), the
  pad expanded exactly as processing_qwen2_vl.Qwen2VLProcessor.__call__ does (emulated here: the
  processor imports torchvision's video processor, which this environment lacks);
- `imageProcessor`: size.shortest_edge / longest_edge and the rest, from the PIL image processor's
  from_pretrained (transformers' own choice between processor_config.json and preprocessor_config.json);
- `weights`: every state-dict name as transformers holds it (transformers 5 names:
  model.language_model.*, model.visual.*, lm_head.weight) and, for several tensors, the shape, the
  float64 sum, the sum of absolute values and the first values, in float32 as from_pretrained
  (dtype=torch.float32) loads them.
Also `imageProcessorCases` and `templateCases`: small folders (files given inline) and what
transformers makes of them, for the precedence rules.

    /work/venv/bin/python tools/reference/qwen_tokenizer.py
"""
import json
import tempfile
from pathlib import Path

import torch
from transformers import AutoModelForImageTextToText, AutoTokenizer
from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil
from transformers.processing_utils import ProcessorMixin

ROOT = Path(__file__).resolve().parents[2]
QWEN = ROOT / "test" / "fixtures" / "qwen"
OUT = QWEN / "chat_cases.json"
FOLDERS = ["qwen2-vl/checkpoint", "qwen2-vl/checkpoint-bf16", "qwen2.5-vl/checkpoint"]
IMAGE_TOKEN = "<|image_pad|>"
MERGE = 2

TEXTS = [
    "Hello, world! This is a plain ASCII sentence.",
    "[12, 345, 678, 901]",
    '{"bbox_2d": [12, 345, 678, 901], "label": "red circle"} and 3.14159 or 1000000',
    "<think>two boxes</think> <answer>[{'Position': [10, 20, 300, 400], 'Confidence': 0.97}]</answer>",
    "naïve café — 東京の猫は可愛い 🐱🚀 ẞ Ω ж 한국어 😀👍🏽",
    "  leading, trailing  \n\n\tand   runs\t\t  of    whitespace \r\n  ",
    "a\n\n\n\nb",
    "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>What is this?<|im_end|>\n<|im_start|>assistant\n",
    "text<|endoftext|>more<|im_end|>",
    "",
]

QUESTION = (
    "Detect all objects belonging to the category 'circle' in the image, and provide the bounding "
    "boxes (between 0 and 1000, integer)."
)
CHATS = [
    ("image+text", [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": QUESTION}]}]),
    (
        "system+image+text",
        [
            {"role": "system", "content": "You are a careful annotator."},
            {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Where is the dog?"}]},
        ],
    ),
    (
        "multi-turn",
        [
            {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What is this?"}]},
            {"role": "assistant", "content": "A cat."},
            {"role": "user", "content": [{"type": "text", "text": "Where is it? 东京 🐱"}]},
        ],
    ),
    ("text only", [{"role": "user", "content": "Hi there"}]),
]
GRIDS = [[[1, 34, 46]], [[1, 16, 16]], [[1, 34, 46], [1, 16, 16]]]

WEIGHTS = [
    "model.language_model.embed_tokens.weight",
    "lm_head.weight",
    "model.language_model.layers.0.self_attn.q_proj.weight",
    "model.language_model.layers.0.self_attn.q_proj.bias",
    "model.language_model.layers.1.mlp.down_proj.weight",
    "model.language_model.layers.1.post_attention_layernorm.weight",
    "model.language_model.norm.weight",
    "model.visual.patch_embed.proj.weight",
    "model.visual.blocks.0.attn.qkv.weight",
    "model.visual.blocks.1.norm1.weight",
    "model.visual.merger.ln_q.weight",
    "model.visual.merger.mlp.2.weight",
]


def expand(text, grids):
    """Qwen2VLProcessor.__call__'s expansion of the image token, line for line."""
    text = [text]
    merge_length = MERGE**2
    index = 0
    for i in range(len(text)):
        while IMAGE_TOKEN in text[i]:
            num_image_tokens = torch.tensor(grids[index]).prod() // merge_length
            text[i] = text[i].replace(IMAGE_TOKEN, "<|placeholder|>" * int(num_image_tokens), 1)
            index += 1
        text[i] = text[i].replace("<|placeholder|>", IMAGE_TOKEN)
    return text[0]


def ids_of(tok, text):
    return tok(text, add_special_tokens=False)["input_ids"]


def image_processor_settings(folder):
    p = Qwen2VLImageProcessorPil.from_pretrained(str(folder))
    return {
        "minPixels": p.size["shortest_edge"],
        "maxPixels": p.size["longest_edge"],
        "patchSize": p.patch_size,
        "temporalPatchSize": p.temporal_patch_size,
        "mergeSize": p.merge_size,
        "imageMean": list(p.image_mean),
        "imageStd": list(p.image_std),
    }


def checksum(t):
    flat = t.detach().reshape(-1)
    return {
        "shape": list(t.shape),
        "sum": flat.double().sum().item(),
        "absSum": flat.double().abs().sum().item(),
        "first": flat[:8].tolist(),
    }


def folder_case(name):
    folder = QWEN / name
    tok = AutoTokenizer.from_pretrained(str(folder))
    template = ProcessorMixin.get_processor_dict(str(folder))[0]["chat_template"]
    chats = []
    for label, messages in CHATS:
        for gen in (True, False):
            text = tok.apply_chat_template(messages, chat_template=template, tokenize=False, add_generation_prompt=gen)
            chats.append({"name": label, "messages": messages, "addGenerationPrompt": gen, "text": text,
                          "ids": ids_of(tok, text)})
    prompt = chats[0]["text"]
    two = tok.apply_chat_template(
        [{"role": "user", "content": [{"type": "image"}, {"type": "image"}, {"type": "text", "text": "Same?"}]}],
        chat_template=template, tokenize=False, add_generation_prompt=True)
    expanded = []
    for grids in GRIDS:
        text = prompt if len(grids) == 1 else two
        expanded.append({"text": text, "grids": grids, "ids": ids_of(tok, expand(text, grids))})

    model = AutoModelForImageTextToText.from_pretrained(str(folder), dtype=torch.float32).eval()
    state = model.state_dict()
    tied = bool(getattr(model.config, "tie_word_embeddings", False))
    weights = {
        "names": sorted(state),
        "tied": bool(tied),
        # Tied: lm_head.weight is the embedding's own parameter.
        "headIsEmbedding": state["lm_head.weight"].data_ptr() == state["model.language_model.embed_tokens.weight"].data_ptr(),
        "total": sum(v.double().sum().item() for k, v in state.items() if not (tied and k == "lm_head.weight")),
        "tensors": {n: checksum(state[n]) for n in WEIGHTS},
    }
    return {
        "folder": name,
        "template": template,
        "encode": [{"text": t, "ids": ids_of(tok, t)} for t in TEXTS],
        "decode": [{"ids": c["ids"], "text": tok.decode(c["ids"], skip_special_tokens=False)} for c in chats[:2]],
        "chats": chats,
        "expanded": expanded,
        "imageProcessor": image_processor_settings(folder),
        "weights": weights,
    }


def image_processor_cases():
    """Which file and which key wins, as Qwen2VLImageProcessorPil.from_pretrained decides."""
    hub = {"min_pixels": 3136, "max_pixels": 12845056, "patch_size": 14, "temporal_patch_size": 2, "merge_size": 2,
           "image_processor_type": "Qwen2VLImageProcessor"}
    nested = {"image_processor": {"size": {"shortest_edge": 6272, "longest_edge": 401408}, "patch_size": 14,
                                  "image_processor_type": "Qwen2VLImageProcessor"}, "processor_class": "Qwen2VLProcessor"}
    cases = [
        ("hub preprocessor_config.json", {"preprocessor_config.json": hub}),
        ("processor_config.json image_processor", {"processor_config.json": nested}),
        ("both files: processor_config.json wins", {"preprocessor_config.json": hub, "processor_config.json": nested}),
        ("processor_config.json without image_processor", {"processor_config.json": {"processor_class": "Qwen2VLProcessor"},
                                                           "preprocessor_config.json": hub}),
        ("min/max_pixels override size", {"preprocessor_config.json": dict(
            hub, size={"shortest_edge": 100, "longest_edge": 200}, min_pixels=4096, max_pixels=500000)}),
        ("nothing configured: class defaults", {"preprocessor_config.json": {"image_processor_type": "Qwen2VLImageProcessor"}}),
    ]
    out = []
    for name, files in cases:
        with tempfile.TemporaryDirectory() as d:
            for f, content in files.items():
                Path(d, f).write_text(json.dumps(content))
            out.append({"name": name, "files": files, "expected": image_processor_settings(d)})
    return out


def template_cases():
    """Which chat template file wins: the processor's (json, then jinja) and the tokenizer's (jinja, then config)."""
    src = QWEN / "qwen2-vl" / "checkpoint"
    tok_files = {f: json.loads((src / f).read_text()) for f in ("tokenizer_config.json",)}
    cases = [
        ("chat_template.json over chat_template.jinja",
         {"chat_template.json": {"chat_template": "JSON{{ messages[0]['content'] }}"}, "chat_template.jinja": "JINJA"}),
        ("chat_template.jinja alone", {"chat_template.jinja": "JINJA{{ messages[0]['content'] }}"}),
        ("tokenizer_config.json's chat_template",
         {"tokenizer_config.json": dict(tok_files["tokenizer_config.json"], chat_template="CONFIG{{ messages[0]['content'] }}")}),
    ]
    out = []
    for name, files in cases:
        with tempfile.TemporaryDirectory() as d:
            (Path(d) / "tokenizer.json").write_bytes((src / "tokenizer.json").read_bytes())
            (Path(d) / "tokenizer_config.json").write_text(json.dumps(tok_files["tokenizer_config.json"]))
            for f, content in files.items():
                Path(d, f).write_text(content if isinstance(content, str) else json.dumps(content))
            template = ProcessorMixin.get_processor_dict(d)[0].get("chat_template")
            if template is None:  # no processor template: the tokenizer's
                template = AutoTokenizer.from_pretrained(d).chat_template
            out.append({"name": name, "files": files, "template": template})
    return out


def main():
    cases = {
        "folders": [folder_case(f) for f in FOLDERS],
        "imageProcessorCases": image_processor_cases(),
        "templateCases": template_cases(),
    }
    OUT.write_text(json.dumps(cases, ensure_ascii=False, indent=1) + "\n")
    print(OUT, OUT.stat().st_size, "bytes")


if __name__ == "__main__":
    main()
