"""Load a Qwen2-VL / Qwen2.5-VL LoRA adapter (and/or a merged model) with transformers + PEFT and
compare its logits with expected ones — the check that what vrft saves works in the ecosystem.

    /work/venv/bin/python tools/reference/qwen_lora_check.py ADAPTER_DIR [--merged MERGED_DIR] \\
        --base CHECKPOINT --expect FILE.safetensors [--key logits] [--merged-key KEY] [--tol 1e-4] \\
        [--write OUT.safetensors]

ADAPTER_DIR   a PEFT adapter folder (adapter_config.json + adapter_model.safetensors), loaded onto
              CHECKPOINT with PeftModel.from_pretrained; "-" to check only --merged.
--merged      a full model folder (config.json + weights), loaded with from_pretrained alone.
--base        the base checkpoint folder the adapter was trained on.
--expect      a safetensors file with the inputs and the expected logits:
                input_ids [B, T], attention_mask [B, T] (any int dtype), pixel_values [rows, 1176],
                image_grid_thw [images, 3]                                  (required)
                <key> (default `logits`): [B, V'] logits at one position per row, [B, K, V'] at K
                      positions per row (logit_positions [B, K]), or [B, T, V'] at every position
                      (only positions with attention_mask 1 are compared)
                logit_positions [B] (optional, for [B, V']): default the last attended position;
                      [B, K] (required, for [B, K, V'])
                logit_columns [V'] (optional): vocabulary ids of the logits' columns; without it V'
                      must be the whole vocabulary
              tools/reference/qwen_lora.py's expected.safetensors has this shape.

--merged-key  the expected logits of the merged model (default: --key's)
--write       saves transformers' own logits there, as `logits_adapter` / `logits_merged`, with
              logit_positions and logit_columns (what vrft's tests commit as fixtures)

Everything runs in fp32. The adapter check also requires that the tensors PEFT loaded are exactly
the file's, under the names PEFT itself would write (so mis-named keys, which PEFT only warns
about, fail here). With both an adapter and --merged, every weight of the merged folder is also
compared with PEFT's own merge_and_unload() of base + adapter (names mapped from transformers 5's
module tree to the checkpoint's). Prints the max abs difference per model; exits 1 if any is above
--tol (1e-6 for the merged weights).
"""
import argparse
import json
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

CLASSES = {
    "qwen2_vl": "Qwen2VLForConditionalGeneration",
    "qwen2_5_vl": "Qwen2_5_VLForConditionalGeneration",
}


def model_class(folder):
    import transformers

    model_type = json.loads((Path(folder) / "config.json").read_text())["model_type"]
    if model_type not in CLASSES:
        sys.exit(f"{folder}: model_type {model_type!r} is not one of {sorted(CLASSES)}")
    return getattr(transformers, CLASSES[model_type])


def selected_logits(model, expect, key):
    ids = expect["input_ids"].long()
    mask = expect["attention_mask"].long()
    image_token = model.config.image_token_id
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=mask, pixel_values=expect["pixel_values"].float(),
                    image_grid_thw=expect["image_grid_thw"].long(),
                    mm_token_type_ids=(ids == image_token).int())
    logits = out.logits.float()
    want = expect[key].float()
    if "logit_columns" in expect:
        logits = logits[..., expect["logit_columns"].long()]
    elif want.shape[-1] != logits.shape[-1]:
        sys.exit(f"{key} has {want.shape[-1]} columns, the model {logits.shape[-1]}: store logit_columns")
    positions = expect["logit_positions"].long() if "logit_positions" in expect else None
    if want.dim() == 2:
        if positions is None:  # the last attended position of each row (right or left padding)
            positions = (mask * torch.arange(mask.shape[1])).argmax(-1)
        return logits[torch.arange(len(positions)), positions], want
    if positions is not None and positions.dim() == 2:  # K positions per row
        return logits[torch.arange(len(positions))[:, None], positions], want
    keep = mask.bool()
    return logits[keep], want[keep]


def checkpoint_name(module_path):
    """transformers 5's module path of a weight -> its name in a hub checkpoint (what vrft writes)."""
    if module_path.startswith("model.language_model."):
        return "model." + module_path[len("model.language_model."):]
    if module_path.startswith("model.visual."):
        return module_path[len("model."):]
    return module_path


def check_merged_weights(peft_model, merged_dir, tol=1e-6):
    """Every tensor of the merged folder equals PEFT's own merge of base + adapter."""
    merged = peft_model.merge_and_unload()
    reference = {checkpoint_name(k): v.float() for k, v in merged.state_dict().items()}
    saved = {}
    for file in sorted(Path(merged_dir).glob("*.safetensors")):
        saved.update(load_file(str(file)))
    unknown = sorted(set(saved) - set(reference))
    largest = max((float((saved[k].float() - reference[k]).abs().max()) for k in saved if k in reference),
                  default=float("inf"))
    good = not unknown and largest <= tol
    print(f"merged weights: {len(saved)} tensors, max |vrft - PEFT merge_and_unload| = {largest:.3e} "
          f"({'ok' if good else 'ABOVE'} tolerance {tol:g})")
    if unknown:
        print(f"  PROBLEM: {len(unknown)} tensors the model does not have, e.g. {unknown[:3]}")
    return good, largest


def check_adapter_tensors(model, adapter_dir):
    """The adapter's tensors must load exactly, under the names PEFT writes."""
    from peft import get_peft_model_state_dict

    saved = load_file(str(Path(adapter_dir) / "adapter_model.safetensors"))
    loaded = get_peft_model_state_dict(model)
    missing, extra = sorted(set(loaded) - set(saved)), sorted(set(saved) - set(loaded))
    problems = []
    if missing:
        problems.append(f"{len(missing)} tensors PEFT expects are not in the file, e.g. {missing[:3]}")
    if extra:
        problems.append(f"{len(extra)} tensors in the file are not PEFT's names, e.g. {extra[:3]}")
    for name in sorted(set(saved) & set(loaded)):
        if saved[name].shape != loaded[name].shape or not torch.equal(saved[name].float(), loaded[name].float()):
            problems.append(f"{name}: loaded {tuple(loaded[name].shape)} differs from the file's {tuple(saved[name].shape)}")
    print(f"adapter: {len(loaded)} LoRA tensors in the PEFT model, {len(saved)} in the file")
    for p in problems:
        print("  PROBLEM:", p)
    return not problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("adapter", help='PEFT adapter folder, or "-" for none')
    ap.add_argument("--merged", help="merged full model folder")
    ap.add_argument("--base", required=True, help="base checkpoint folder")
    ap.add_argument("--expect", required=True, help="safetensors with inputs and expected logits")
    ap.add_argument("--key", default="logits", help="the expected logits' key (default logits)")
    ap.add_argument("--merged-key", help="the merged model's expected logits' key (default --key)")
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--write", help="save transformers' logits to this safetensors file")
    args = ap.parse_args()
    if args.adapter == "-" and not args.merged:
        ap.error("give an adapter folder, --merged, or both")

    ok, _ = check(args.adapter, args.merged, args.base, load_file(args.expect), args.key,
                  args.merged_key or args.key, args.tol, args.write)
    sys.exit(0 if ok else 1)


def check(adapter, merged, base_dir, expect, key="logits", merged_key="logits", tol=1e-4, write=None):
    """Loads the adapter (onto base_dir) and/or the merged folder; returns (ok, report)."""
    needed = ["input_ids", "attention_mask", "pixel_values", "image_grid_thw"]
    needed += [key] if adapter != "-" else []
    needed += [merged_key] if merged else []
    for k in needed:
        if k not in expect:
            sys.exit(f"the expected file has no {k!r} (keys: {sorted(expect)})")
    ok = True
    report = {}
    results = []
    if adapter != "-":
        from peft import PeftModel

        base = model_class(base_dir).from_pretrained(base_dir, dtype=torch.float32)
        model = PeftModel.from_pretrained(base, adapter).eval()
        ok &= check_adapter_tensors(model, adapter)
        results.append(("adapter", key, *selected_logits(model, expect, key)))
        if merged:
            good, report["merged_weights_max_diff"] = check_merged_weights(model, merged)
            ok &= good
        del model, base
    if merged:
        model = model_class(merged).from_pretrained(merged, dtype=torch.float32).eval()
        results.append(("merged", merged_key, *selected_logits(model, expect, merged_key)))
    for what, wanted, got, want in results:
        diff = float((got - want).abs().max())
        good = diff <= tol
        ok &= good
        report[f"{what}_logits_max_diff"] = diff
        print(f"{what}: max |logits - {wanted}| = {diff:.3e} over {tuple(want.shape)} ({'ok' if good else 'ABOVE'} "
              f"tolerance {tol:g})")
    if write:
        out = {f"logits_{what}": got.contiguous() for what, _, got, _ in results}
        for k in ("logit_positions", "logit_columns"):
            if k in expect:
                out[k] = expect[k].to(torch.int32).contiguous()
        save_file(out, write)
        print(f"wrote transformers' logits to {write}")
    return ok, report


if __name__ == "__main__":
    main()
