import json
from transformers import AutoTokenizer, Qwen2VLProcessor
from transformers import processing_utils as _pu
_orig_check = _pu.ProcessorMixin.check_argument_for_proper_class
def _check(self, name, arg):
    # torchvision is unavailable on CPU here -> no video processor; allow None
    if name == "video_processor" and arg is None:
        return None
    return _orig_check(self, name, arg)
_pu.ProcessorMixin.check_argument_for_proper_class = _check
from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil
def make_processor(path="/tmp/trl-research/qwen2vl", **ip_kwargs):
    ip = Qwen2VLImageProcessorPil.from_pretrained(path, **ip_kwargs)
    tok = AutoTokenizer.from_pretrained(path)
    ct = json.load(open(f"{path}/chat_template.json"))["chat_template"]
    return Qwen2VLProcessor(image_processor=ip, tokenizer=tok, video_processor=None, chat_template=ct)
if __name__ == "__main__":
    p = make_processor()
    from PIL import Image
    msgs=[{"role":"user","content":[{"type":"image"},{"type":"text","text":"hi"}]}]
    t=p.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False); print(t)
    out=p(text=[t,t], images=[Image.new("RGB",(64,64)), Image.new("RGB",(200,56))], return_tensors="pt", padding=True)
    print({k:v.shape for k,v in out.items()}, out["image_grid_thw"])
