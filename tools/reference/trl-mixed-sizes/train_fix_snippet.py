# Fix for TRL 1.13 GRPOTrainer + Qwen2-VL/Qwen2.5-VL with mixed image sizes.
# TRL left-pads prompt_ids (grpo_trainer.py:2465) but re-tokenises the prompts for the logprob forward
# with `self.processing_class(images=..., text=..., padding=True)` (grpo_trainer.py:2551), which pads on
# the tokenizer's padding_side. Qwen's tokenizer defaults to "right", so mm_token_type_ids (which
# get_rope_index uses to find image spans) is right-padded while input_ids/attention_mask are left-padded.
# TRL only sets padding_side="left" itself when it loads the processor (processing_class=None, grpo_trainer.py:368-375).
from transformers import AutoProcessor

def load_processor(model_id, **kw):
    processor = AutoProcessor.from_pretrained(model_id, padding_side="left", **kw)
    processor.tokenizer.padding_side = "left"          # belt and braces
    assert processor.tokenizer.padding_side == "left"
    return processor

# trainer = GRPOTrainer(model=..., processing_class=load_processor(MODEL), ...)
