"""LoRA reference fixtures for vrft's Qwen2-VL / Qwen2.5-VL training, made by PyTorch + PEFT.

For each tiny checkpoint (tools/reference/qwen_tiny.py, loaded in fp32) this script writes
test/fixtures/qwen/<family>/lora/ with:

  adapter_config.json, adapter_model.safetensors
      A PEFT LoRA adapter exactly as PEFT 0.21 `save_pretrained` writes it: r 4, lora_alpha 8,
      lora_dropout 0, scaling = lora_alpha / r = 2, no bias, not rsLoRA, not DoRA, and
          target_modules = TARGET_MODULES (below), a regex string: PEFT `re.fullmatch`es it against
          every module name of the transformers model (JS: new RegExp(`^(?:${s})$`)).
          ^(?!.*visual).*\\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)$
      The module names it is matched against are transformers 5's runtime names
      (model.language_model.layers.N.self_attn.q_proj, model.visual.blocks.N.mlp.gate_proj, ...);
      excluding "visual" rather than requiring "language_model" keeps it valid for transformers 4's
      names (model.layers.N..., visual...) too.
      It matches the 7 linears of every decoder layer (q/k/v/o_proj, gate/up/down_proj) and nothing
      in the vision tower. A plain list ["q_proj", ..., "down_proj"] would not do: PEFT matches a
      list by name suffix, and Qwen2.5-VL's vision blocks have mlp.gate_proj/up_proj/down_proj
      (expected.json `plain_list_matches` counts what the list would have caught).
      Tensor names (transformers 5 module names, adapter name "default" dropped):
          base_model.model.model.language_model.layers.{N}.self_attn.{q,k,v,o}_proj.lora_{A,B}.weight
          base_model.model.model.language_model.layers.{N}.mlp.{gate,up,down}_proj.lora_{A,B}.weight
      These names are required: PEFT 0.21 + transformers 5.18 does NOT rename the legacy form
      base_model.model.model.layers.N... on load; it warns "missing adapter keys" and drops them (the
      adapter then acts as absent). qwen_lora_check.py fails on such a file.
      lora_A [r, in], lora_B [out, r], F32. Every A and B is seeded normal (std LORA_STD), B non-zero,
      so the adapter changes the output. The adapted linear is y = W x + b + scaling · B (A x).

  expected.safetensors  (floats F32, integers I32)
      pixel_values       [rows, 1176]    both images' patch rows, image 0 then image 1 (transformers'
                                         Qwen2VLImageProcessorPil with the checkpoint's settings)
      image_grid_thw     [2, 3]          [1, gh, gw] per image (row b of the batch has image b)
      input_ids          [2, T]          chat prompt + completion + <|im_end|>, right-padded with
                                         <|endoftext|> 151643
      attention_mask     [2, T]          1 on real tokens, 0 on the padding
      labels             [2, T]          -100 on the prompt and padding, the input id on completion
                                         tokens (unshifted, as HF takes them: logits at t-1 predict t)
      loss               [1]             the SFT loss with the adapter on (see below)
      token_logprobs     [2, T]          log p(input_ids[t] | < t) with the adapter on where labels[t]
                                         != -100, else 0
      grad.<PEFT name>   like the tensor d loss / d each lora_A / lora_B (28 tensors), keyed by the
                                         adapter_model.safetensors name
      logit_positions    [2]             the last prompt position of each row (prompt length - 1):
                                         its logits predict the first completion token
      logit_columns      [V']            vocabulary ids whose lm_head row is non-zero; every other
                                         logit is exactly 0 in all three variants (qwen_tiny.py
                                         zeroes those rows; LoRA does not touch lm_head)
                                         (9 of the 62 completion tokens, e.g. 13708 "<th", are outside
                                         it: their logit is a constant 0, their embedding row 0)
      logits             [2, V']         logits at logit_positions, columns logit_columns, adapter ON
      logits_off         [2, V']         the same with the adapter disabled (the reference policy)
      logits_merged      [2, V']         the same from merge_and_unload()'s model (= logits to ~1e-6)
      merged.<weight>    [out, in]       merged weights of layer 0's q_proj and down_proj, named as
                                         in the checkpoint folder (model.layers.0.self_attn.q_proj.weight,
                                         model.layers.0.mlp.down_proj.weight): W + scaling · B @ A

  expected.json
      family, checkpoint, r, lora_alpha, lora_dropout, scaling, target_modules, lora_std, seed,
      adapter_tensors {name: shape}, targets (module names matched), plain_list_matches, loss
      (float64 repr of the f32 value), hf_loss (transformers' own loss from `labels`),
      completion_tokens, rows [{image_size [w, h], grid, prompt_length, length, question,
      completion, completion_ids}], input_ids, labels, attention_mask, logit_positions,
      max abs differences on/off and on/merged, and the names transformers 5 writes when the merged
      model is save_pretrained'ed (merged_checkpoint_prefixes: the legacy checkpoint names
      model.layers.N..., model.embed_tokens, model.norm, visual.*, lm_head.weight only if untied;
      the merged folder itself is not kept, it is checked to load back to the same logits).

Loss (vrft's SFT loss): the mean over ALL completion tokens of the batch of -log p(token), i.e. the
sum of the token NLLs of both rows divided by the number of completion tokens in the batch (not a
mean of per-row means). Completion tokens include the closing <|im_end|>. It equals transformers'
ForCausalLMLoss with `labels` (cross-entropy, ignore_index -100, mean reduction over non-ignored
shifted labels); the script asserts they agree to 1e-6 relative (f32 summation order). Gradients are of this loss, with only the
LoRA tensors trainable (vision tower, embeddings, decoder weights, lm_head all frozen), model in
eval mode (no dropout anywhere).

The model also needs mm_token_type_ids (1 where input_ids == <|image_pad|>, else 0) in transformers
5.18; it is not stored, it follows from input_ids.

    /work/venv/bin/python tools/reference/qwen_lora.py
    /work/venv/bin/python tools/reference/qwen_lora_check.py test/fixtures/qwen/qwen2-vl/lora \\
        --base test/fixtures/qwen/qwen2-vl/checkpoint --expect test/fixtures/qwen/qwen2-vl/lora/expected.safetensors
"""
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch
from peft import LoraConfig, get_peft_model
from safetensors.numpy import save_file
from tokenizers import Tokenizer
from transformers import Qwen2_5_VLForConditionalGeneration, Qwen2VLForConditionalGeneration
from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path("test") / "fixtures" / "qwen"  # relative to ROOT: adapter_config.json records it
IMAGE_PAD, IM_END, PAD = 151655, 151645, 151643
R, ALPHA = 4, 8
LORA_STD = 0.2
SEED = 23
LM_LINEARS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
TARGET_MODULES = r"^(?!.*visual).*\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)$"
FAMILIES = {"qwen2-vl": Qwen2VLForConditionalGeneration, "qwen2.5-vl": Qwen2_5_VLForConditionalGeneration}

SYSTEM = "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
ROWS = [
    dict(size=(56, 84), square=((8, 20), (30, 44), (230, 30, 30)),
         question="Detect all objects belonging to the category 'circle' in the image, and provide the bounding "
         "boxes (between 0 and 1000, integer) and confidence (between 0 and 1, with two decimal places). "
         "Output the thinking process in <think> </think> and final answer in <answer> </answer> tags.",
         completion="<think>a red square</think> <answer>[{'Position': [100, 200, 300, 400], 'Confidence': 1}]</answer>"),
    dict(size=(140, 84), square=((70, 10), (120, 60), (40, 60, 220)),
         question="What is in this picture? Answer in one word.",
         completion="<think>one blue box</think> <answer>square</answer>"),
]


def image(width, height, square):
    """A gradient with one flat coloured square: (x0, y0), (x1, y1), colour."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    rgb = np.stack([255 * x / (width - 1), 255 * y / (height - 1), 128 + 0 * x], axis=-1)
    (x0, y0), (x1, y1), colour = square
    rgb[y0:y1, x0:x1] = colour
    return np.round(rgb).astype(np.uint8)


def processor_for(folder):
    pre = folder / "preprocessor_config.json"
    if pre.exists():
        cfg = json.loads(pre.read_text())
    else:
        cfg = json.loads((folder / "processor_config.json").read_text())["image_processor"]
    cfg = {k: v for k, v in cfg.items() if k not in ("image_processor_type", "processor_class")}
    return Qwen2VLImageProcessorPil(**cfg)


def lm_forward(model, batch):
    return model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                 pixel_values=batch["pixel_values"], image_grid_thw=batch["image_grid_thw"],
                 mm_token_type_ids=(batch["input_ids"] == IMAGE_PAD).int())


def sft_loss(logits, labels):
    """Mean over all completion tokens of the batch of -log p(token); also the per-token log-probs."""
    logp = torch.log_softmax(logits[:, :-1].float(), -1)
    target = labels[:, 1:]
    mask = target != -100
    picked = logp.gather(-1, target.clamp(min=0).unsqueeze(-1)).squeeze(-1) * mask
    token_logprobs = torch.zeros_like(labels, dtype=torch.float32)
    token_logprobs[:, 1:] = picked
    return -picked.sum() / mask.sum(), token_logprobs


def f32(t):
    return np.ascontiguousarray(t.detach().to(torch.float32).numpy())


def i32(t):
    return np.ascontiguousarray(np.asarray(t, dtype=np.int32))


def run(family, model_class):
    folder = FIXTURES / family / "checkpoint"
    out_dir = FIXTURES / family / "lora"
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    proc = processor_for(folder)

    # Inputs: two rows, one image each, right-padded.
    images = [image(*r["size"], r["square"]) for r in ROWS]
    processed = proc(images=images, return_tensors="pt")
    pixels, grids = processed["pixel_values"].to(torch.float32), processed["image_grid_thw"]
    rows, meta_rows = [], []
    for r, (_, gh, gw) in zip(ROWS, grids.tolist()):
        prompt = tok.encode(SYSTEM + "<|vision_start|>").ids + [IMAGE_PAD] * (gh * gw // 4)
        prompt += tok.encode("<|vision_end|>" + r["question"] + "<|im_end|>\n<|im_start|>assistant\n").ids
        completion = tok.encode(r["completion"]).ids + [IM_END]
        rows.append((prompt, completion))
        meta_rows.append(dict(image_size=list(r["size"]), grid=[1, gh, gw], prompt_length=len(prompt),
                              length=len(prompt) + len(completion), question=r["question"],
                              completion=r["completion"], completion_ids=completion))
    width = max(len(p) + len(c) for p, c in rows)
    ids, mask, labels = [], [], []
    for p, c in rows:
        pad = width - len(p) - len(c)
        ids.append(p + c + [PAD] * pad)
        mask.append([1] * (len(p) + len(c)) + [0] * pad)
        labels.append([-100] * len(p) + c + [-100] * pad)
    batch = dict(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask), pixel_values=pixels,
                 image_grid_thw=grids)
    labels = torch.tensor(labels)
    positions = torch.tensor([len(p) - 1 for p, _ in rows])
    at = (torch.arange(2), positions)

    # The model with a seeded LoRA adapter.
    model = model_class.from_pretrained(folder, dtype=torch.float32).eval()
    columns = torch.nonzero(model.lm_head.weight.detach().abs().sum(-1) > 0).flatten()
    module_names = [n for n, _ in model.named_modules()]
    plain = [n for n in module_names if any(n.endswith("." + t) for t in LM_LINEARS)]
    config = LoraConfig(r=R, lora_alpha=ALPHA, lora_dropout=0.0, target_modules=TARGET_MODULES)
    model = get_peft_model(model, config)
    targets = sorted(n.removeprefix("base_model.model.") for n, m in model.named_modules() if hasattr(m, "lora_A")
                     and "default" in m.lora_A)
    assert len(targets) == 7 * model.config.get_text_config().num_hidden_layers
    assert all("visual" not in t and ".language_model.layers." in t for t in targets), targets
    gen = torch.Generator().manual_seed(SEED)
    lora = {}
    with torch.no_grad():
        for name, p in sorted(model.named_parameters()):
            if "lora_" in name:
                p.copy_(torch.randn(p.shape, generator=gen) * LORA_STD)
                lora[name] = p
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == set(lora), "only the LoRA tensors may be trainable"
    assert not any(p.requires_grad for n, p in model.named_parameters() if "visual" in n)

    # Adapter as PEFT writes it.
    model.save_pretrained(out_dir)
    (out_dir / "README.md").unlink()  # PEFT's model-card stub: not part of the adapter
    from safetensors import safe_open
    with safe_open(out_dir / "adapter_model.safetensors", "pt") as f:
        saved = {k: list(f.get_tensor(k).shape) for k in f.keys()}
        saved_tensors = {k: f.get_tensor(k) for k in f.keys()}

    def peft_name(param_name):
        return param_name.replace(".default.weight", ".weight")

    assert set(saved) == {peft_name(n) for n in lora}, (sorted(saved)[:4], sorted(lora)[:4])
    for n, p in lora.items():
        assert torch.equal(saved_tensors[peft_name(n)], p.detach())
    scaling = model.base_model.model.model.language_model.layers[0].self_attn.q_proj.scaling["default"]
    assert scaling == ALPHA / R

    # Loss, gradients, per-token log-probs; transformers' own loss for comparison.
    out = lm_forward(model, batch)
    loss, token_logprobs = sft_loss(out.logits, labels)
    loss.backward()
    with torch.no_grad():
        hf = model(**batch, mm_token_type_ids=(batch["input_ids"] == IMAGE_PAD).int(), labels=labels)
    assert abs(float(hf.loss) - loss.item()) < 1e-6 * abs(loss.item()), (float(hf.loss), loss.item())
    grads = {peft_name(n): p.grad for n, p in lora.items()}
    for n, g in grads.items():
        assert g is not None and g.abs().max() > 0, f"zero gradient for {n}"
    logits_on = out.logits.detach()[at][:, columns]

    with torch.no_grad():
        with model.disable_adapter():
            logits_off = lm_forward(model, batch).logits[at][:, columns]
        merged = model.merge_and_unload()
        logits_merged = lm_forward(merged, batch).logits[at][:, columns]
    on_off = float((logits_on - logits_off).abs().max())
    on_merged = float((logits_on - logits_merged).abs().max())
    assert on_off > 1e-2, on_off
    assert on_merged < 1e-4, on_merged

    # Merged weights, checked against W + scaling · B @ A from the base checkpoint.
    base = model_class.from_pretrained(folder, dtype=torch.float32)
    merged_weights = {}
    for runtime, saved_as in [("model.language_model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.q_proj.weight"),
                              ("model.language_model.layers.0.mlp.down_proj", "model.layers.0.mlp.down_proj.weight")]:
        w = merged.get_submodule(runtime).weight.detach()
        a = saved_tensors[f"base_model.model.{runtime}.lora_A.weight"]
        b = saved_tensors[f"base_model.model.{runtime}.lora_B.weight"]
        assert torch.allclose(w, base.get_submodule(runtime).weight + scaling * b @ a, atol=1e-6)
        merged_weights[f"merged.{saved_as}"] = f32(w)

    # The merged model's saved names (what `vrft export-model --merge` must write) and a check that it
    # loads back to the same logits: kept out of the fixtures (~40 MB), only its key names recorded.
    with tempfile.TemporaryDirectory() as tmp:
        merged.save_pretrained(tmp)
        with safe_open(Path(tmp) / "model.safetensors", "pt") as f:
            merged_keys = sorted(f.keys())
        reloaded = model_class.from_pretrained(tmp, dtype=torch.float32).eval()
        with torch.no_grad():
            again = lm_forward(reloaded, batch).logits[at][:, columns]
        assert float((again - logits_on).abs().max()) < 1e-4

    tensors = dict(
        pixel_values=f32(pixels), image_grid_thw=i32(grids), input_ids=i32(batch["input_ids"]),
        attention_mask=i32(batch["attention_mask"]), labels=i32(labels), loss=f32(loss.reshape(())),
        token_logprobs=f32(token_logprobs), logit_positions=i32(positions), logit_columns=i32(columns),
        logits=f32(logits_on), logits_off=f32(logits_off), logits_merged=f32(logits_merged),
        **{f"grad.{n}": f32(g) for n, g in sorted(grads.items())}, **merged_weights,
    )
    save_file(tensors, out_dir / "expected.safetensors")
    meta = dict(
        family=family, checkpoint=str(folder), r=R, lora_alpha=ALPHA, lora_dropout=0.0, scaling=scaling,
        target_modules=TARGET_MODULES, lora_std=LORA_STD, seed=SEED,
        adapter_tensors=dict(sorted(saved.items())), targets=targets,
        plain_list_matches=dict(count=len(plain), visual=[n for n in plain if "visual" in n]),
        loss=loss.item(), hf_loss=float(hf.loss), completion_tokens=int((labels != -100).sum()),
        rows=meta_rows, input_ids=ids, labels=labels.tolist(), attention_mask=mask,
        logit_positions=positions.tolist(), max_abs_on_minus_off=on_off, max_abs_on_minus_merged=on_merged,
        merged_checkpoint_keys_sample=[k for k in merged_keys if ".0." in k and ("layers" in k or "blocks" in k)][:6],
        merged_checkpoint_prefixes=sorted({".".join(k.split(".")[:2]) for k in merged_keys}),
    )
    (out_dir / "expected.json").write_text(json.dumps(meta, indent=1))
    sizes = {p.name: p.stat().st_size for p in out_dir.iterdir()}
    print(family, "loss %.6f (hf %.6f)" % (loss.item(), float(hf.loss)), "tokens", meta["completion_tokens"],
          "grids", grids.tolist(), "lengths", [r["length"] for r in meta_rows],
          "|on-off| %.4f |on-merged| %.2e" % (on_off, on_merged), "plain list matches", len(plain), sizes)


def main():
    os.chdir(ROOT)
    torch.manual_seed(0)
    for family, cls in FAMILIES.items():
        run(family, cls)


if __name__ == "__main__":
    main()
