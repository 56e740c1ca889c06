import os, sys, time, json, argparse
sys.path.insert(0, "/tmp/trl-research")
from mkproc import make_processor
import torch
from PIL import Image
from datasets import Dataset
from transformers import Qwen2VLForConditionalGeneration
from trl import GRPOConfig, GRPOTrainer

ap = argparse.ArgumentParser()
ap.add_argument("--sizes", default="64x64,120x80,200x56")
ap.add_argument("--beta", type=float, default=0.0)
ap.add_argument("--steps", type=int, default=2)
ap.add_argument("--bs", type=int, default=4)
ap.add_argument("--gens", type=int, default=2)
ap.add_argument("--out", default="/tmp/trl-research/out")
ap.add_argument("--left", action="store_true", help="FIX: processor tokenizer padding_side=left")
ap.add_argument("--log_completions", action="store_true")
args = ap.parse_args()
if os.environ.get("RDEBUG"): import debug_hook

torch.manual_seed(0)
sizes = [tuple(map(int, s.split("x"))) for s in args.sizes.split(",")]
rows = []
for i in range(12):
    w, h = sizes[i % len(sizes)]
    img = Image.new("RGB", (w, h), color=((37 * i) % 255, (91 * i) % 255, (13 * i) % 255))
    rows.append({"prompt": [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": f"What color is image {i}?"}]}],
                 "image": img})
ds = Dataset.from_list(rows)

def reward_len(completions, **kw):
    return [float(len(c[0]["content"]) if isinstance(c, list) else len(c)) / 10.0 for c in completions]

proc = make_processor()
if args.left:
    proc.tokenizer.padding_side = "left"
print("PADDING_SIDE", proc.tokenizer.padding_side)
model = Qwen2VLForConditionalGeneration.from_pretrained("/tmp/trl-research/qwen2vl", dtype=torch.float32)
cfg = GRPOConfig(output_dir=args.out, max_steps=args.steps, per_device_train_batch_size=args.bs,
                 num_generations=args.gens, max_completion_length=12, beta=args.beta,
                 logging_steps=1, report_to="none", use_cpu=True, save_strategy="no",
                 log_completions=args.log_completions, bf16=False, seed=0)
tr = GRPOTrainer(model=model, reward_funcs=reward_len, args=cfg, train_dataset=ds, processing_class=proc)
t0 = time.time()
tr.train()
print("TRAIN_SECONDS", round(time.time() - t0, 2))
tr.state.save_to_json(os.path.join(args.out, "trainer_state.json"))
print("LOG_KEYS", sorted({k for e in tr.state.log_history for k in e}))
