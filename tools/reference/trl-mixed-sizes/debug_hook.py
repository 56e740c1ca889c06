import torch
from transformers.models.qwen2_vl import modeling_qwen2_vl as m
_orig = m.Qwen2VLModel.get_rope_index
def hooked(self, input_ids, mm_token_type_ids=None, image_grid_thw=None, video_grid_thw=None, attention_mask=None, **kw):
    img = 151655
    ok = bool(((input_ids == img).int() == (mm_token_type_ids == 1).int()).all())
    print(f"[rope] ids{tuple(input_ids.shape)} grids={image_grid_thw.tolist() if image_grid_thw is not None else None} "
          f"img_tok_per_row={(input_ids==img).sum(1).tolist()} mm1_per_row={(mm_token_type_ids==1).sum(1).tolist()} aligned={ok}", flush=True)
    return _orig(self, input_ids, mm_token_type_ids=mm_token_type_ids, image_grid_thw=image_grid_thw, video_grid_thw=video_grid_thw, attention_mask=attention_mask, **kw)
m.Qwen2VLModel.get_rope_index = hooked
