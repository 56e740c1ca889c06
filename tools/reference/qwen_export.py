"""Fixtures for test/unit/qwen/export.test.ts: what vrft saves, loaded by transformers + PEFT.

The test, run with VRFT_EXPORT_FIXTURE_OUT=DIR, writes for each family (qwen2-vl, qwen2.5-vl) into
DIR/<family>/:
  adapter/           vrft's PEFT adapter folder (a LoRA r 4, alpha 8 adapter with non-zero B on the
                     tiny checkpoint test/fixtures/qwen/<family>/checkpoint), with the base's files
  merged/            the same adapter merged into full weights (model.safetensors, checkpoint names)
                     with the base's config, tokenizer, template and processor files
  vrft.safetensors   the LoRA fixture's inputs, logit_positions [2, 3], logit_columns, and vrft's
                     logits there: `logits` (adapter on) and `logits_merged` (the merged folder)

This script then, for each family:
  1. commits the adapter into test/fixtures/qwen/<family>/export/ (adapter_model.safetensors as
     written; adapter_config.json with base_model_name_or_path made relative to the repository,
     which is where PEFT resolves it from when run from there);
  2. loads that committed adapter onto the base with PeftModel.from_pretrained and the merged folder
     with from_pretrained alone (qwen_lora_check.check: tensors exactly the file's under PEFT's
     names, every merged weight equal to PEFT's own merge_and_unload to 1e-6, logits equal to
     vrft's to 1e-4), and writes transformers' logits to export/transformers.safetensors
     (logits_adapter, logits_merged [2, 3, V'], logit_positions, logit_columns);
  3. writes export/expected.json: the sha256 of every file of both folders (what the test checks
     vrft still writes) and the differences measured here.

    VRFT_EXPORT_FIXTURE_OUT=/tmp/vrft-export npx vitest run test/unit/qwen/export.test.ts
    /work/venv/bin/python tools/reference/qwen_export.py /tmp/vrft-export
"""
import hashlib
import json
import os
import shutil
import sys
from pathlib import Path

import peft
import torch
import transformers
from safetensors.torch import load_file

sys.path.insert(0, str(Path(__file__).resolve().parent))
from qwen_lora_check import check  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
FAMILIES = ("qwen2-vl", "qwen2.5-vl")


def sha256(file):
    return hashlib.sha256(Path(file).read_bytes()).hexdigest()


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    written = Path(sys.argv[1]).resolve()
    os.chdir(ROOT)  # PEFT reads a relative base_model_name_or_path from here
    ok = True
    for family in FAMILIES:
        source = written / family
        base = Path("test/fixtures/qwen") / family / "checkpoint"
        dest = Path("test/fixtures/qwen") / family / "export"
        dest.mkdir(exist_ok=True)
        config = json.loads((source / "adapter" / "adapter_config.json").read_text())
        if Path(config["base_model_name_or_path"]) != (ROOT / base):
            sys.exit(f"{source}/adapter names base {config['base_model_name_or_path']}, not {ROOT / base}")
        config["base_model_name_or_path"] = str(base)
        (dest / "adapter_config.json").write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n")
        shutil.copyfile(source / "adapter" / "adapter_model.safetensors", dest / "adapter_model.safetensors")

        print(f"== {family}")
        good, report = check(str(dest), str(source / "merged"), str(base), load_file(str(source / "vrft.safetensors")),
                             key="logits", merged_key="logits_merged", tol=1e-4,
                             write=str(dest / "transformers.safetensors"))
        ok &= good
        expected = {
            "family": family,
            "base": str(base),
            "made_by": "tools/reference/qwen_export.py",
            "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                         "peft": peft.__version__},
            "max_abs_diff": report,
            "adapter": {f.name: sha256(f) for f in sorted((source / "adapter").iterdir())},
            "merged": {f.name: sha256(f) for f in sorted((source / "merged").iterdir())},
        }
        (dest / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
