"""Builds test/fixtures/rewards-upstream/corpus.json: completions with the rewards the published
code itself gives them (upstream_rewards.py, copied verbatim), for test/unit/rewardsUpstream.test.ts.

Run: python tools/reference/rewards-upstream/make_corpus.py  (needs pycocotools and Pillow; a venv
outside the repo). Deterministic (seeded). Each case names its family and kind; `differences` maps a
component to the row of docs/rewards-vs-upstream.md that explains why vrft differs there.

Frames: Visual-RFT cases answer on 0-1000 and the image is 1000x1000 (or 500x400, truth scaled to
pixels for vrft); VLM-R1 odLength cases use a 560x420 image, which Qwen2.5-VL does not resize
(pixels = resized input); VLM-R1 REC cases use 640x480, resized to 644x476, answers in the resized
frame and the truth in pixels, as upstream's iou_reward converts them.
"""
import contextlib
import io
import json
import os
import random
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
import upstream_rewards as up  # noqa: E402
from PIL import Image  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
rng = random.Random(25)
cases = []


def msg(text):
    return [[{"content": text}]]


def fmt(completion):
    return {"format": up.visual_rft_format_reward(msg(completion))[0]}


def add(family, kind, completion, solution, context, expected, differences=None):
    case = {"id": f"{family}/{kind}/{len(cases)}", "family": family, "kind": kind,
            "completion": completion, "solution": solution, "context": context,
            "expected": expected}
    if differences:
        case["differences"] = differences
    cases.append(case)


# ---------------------------------------------------------------- Visual-RFT detection
def vr_list(boxes, q="'", key_p="Position", key_c="Confidence"):
    items = []
    for b in boxes:
        pos = ", ".join(str(v) for v in b[:4])
        if len(b) > 4 and b[4] is not None:
            items.append("{%s%s%s: [%s], %s%s%s: %s}" % (q, key_p, q, pos, q, key_c, q, b[4]))
        else:
            items.append("{%s%s%s: [%s]}" % (q, key_p, q, pos))
    return "[" + ", ".join(items) + "]"


def rand_box(lo=0, hi=1000, minside=40):
    x1 = rng.randint(lo, hi - minside - 1)
    y1 = rng.randint(lo, hi - minside - 1)
    x2 = rng.randint(x1 + minside, min(hi, x1 + 400))
    y2 = rng.randint(y1 + minside, min(hi, y1 + 400))
    return [x1, y1, x2, y2]


def jitter(b, d):
    return [max(0, min(1000, v + rng.randint(-d, d))) for v in b]


def conf():
    return rng.choice([1, 0.9, 0.75, 0.5, 0.3, 0.1, 0])


def visual_rft(kind, completion, gt, image=(1000, 1000), differences=None):
    sol = "<answer>" + (vr_list([b + [1] for b in gt]) if gt else "No Objects") + "</answer>"
    iou = up.accuracy_reward_iou(msg(completion), [sol])[0]
    confidence = up.accuracy_reward_confidence(msg(completion), [sol])[0]
    w, h = image
    boxes = [{"x1": b[0] * w / 1000, "y1": b[1] * h / 1000, "x2": b[2] * w / 1000, "y2": b[3] * h / 1000}
             for b in gt]
    add("visual-rft", kind, completion, {"boxes": boxes}, {"image": {"width": w, "height": h}},
        {"iou": iou, "confidence": confidence, **fmt(completion)}, differences)


def W(answer, think="looking"):
    return f"<think>{think}</think><answer>{answer}</answer>"


for _ in range(30):
    gt = [rand_box() for _ in range(rng.randint(1, 3))]
    visual_rft("perfect", W(vr_list([b + [conf()] for b in gt])), gt)
for _ in range(30):
    gt = [rand_box() for _ in range(rng.randint(1, 3))]
    pred = [jitter(b, rng.choice([5, 20, 60])) + [conf()] for b in gt if rng.random() < 0.8]
    if not pred:
        pred = [rand_box() + [0.5]]
    degenerate = any(b[2] <= b[0] or b[3] <= b[1] for b in pred)
    visual_rft("partial", W(vr_list(pred)), gt,
               differences={"iou": "degenerate-boxes", "confidence": "degenerate-boxes"} if degenerate else None)
for _ in range(20):
    gt = [rand_box() for _ in range(rng.randint(1, 2))]
    pred = [b + [conf()] for b in gt] + [rand_box() + [conf()] for _ in range(rng.randint(1, 3))]
    rng.shuffle(pred)
    visual_rft("extra-boxes", W(vr_list(pred)), gt)
for _ in range(8):
    gt = [rand_box()]
    b = jitter(gt[0], 10)
    visual_rft("duplicate-exact", W(vr_list([b + [0.8], b + [0.8]])), gt)
    visual_rft("duplicate-position", W(vr_list([b + [0.9], b + [0.4]])), gt,
               differences={"iou": "duplicates", "confidence": "duplicates"})
for _ in range(6):
    gt = [rand_box()]
    visual_rft("no-answer-tag", f"<think>x</think>{vr_list([gt[0] + [0.9]])}", gt)
    visual_rft("no-tags-at-all", vr_list([gt[0] + [0.9]]), gt,
               differences={"iou": "no-answer-tag", "confidence": "no-answer-tag"})
    visual_rft("truncated", f"<think>x</think><answer>{vr_list([gt[0] + [0.9], rand_box() + [0.2]])[:-12]}", gt)
    visual_rft("truncated-inside-closed", W(vr_list([gt[0] + [0.9], rand_box() + [0.2]])[:-12]), gt)
    visual_rft("doubled-brackets", W("[" + vr_list([gt[0] + [0.7]]) + "]"), gt)
    visual_rft("double-quotes", W(vr_list([gt[0] + [0.7]], q='"')), gt)
    visual_rft("lower-case-keys", W(vr_list([gt[0] + [0.7]], key_p="position", key_c="confidence")), gt)
    visual_rft("lower-case-confidence", W(vr_list([gt[0] + [0.7]], key_c="confidence")), gt,
               differences={"iou": "missing-confidence"})
    visual_rft("missing-confidence", W(vr_list([gt[0] + [None]])), gt, differences={"iou": "missing-confidence"})
    three = "{'Position': [%d, %d, %d], 'Confidence': 0.5}" % tuple(gt[0][:3])
    visual_rft("malformed-object", W(vr_list([gt[0] + [0.9]])[:-1] + ", " + three + "]"), gt,
               differences={"iou": "malformed-objects", "confidence": "malformed-objects"})
    visual_rft("malformed-object-alone", W("[" + three + "]"), gt)
    visual_rft("degenerate-no-confidence", W(vr_list([gt[0] + [0.9], gt[0][:3] + [0.5]])), gt,
               differences={"iou": "missing-confidence", "confidence": "missing-confidence"})
    visual_rft("plain-fence", W("```\n" + vr_list([gt[0] + [0.9]]) + "\n```"), gt,
               differences={"iou": "visual-rft-multiline", "confidence": "visual-rft-multiline"})
    visual_rft("json-fence-one-line", W("```json" + vr_list([gt[0] + [0.9]]) + "```"), gt,
               differences={"iou": "fences", "confidence": "fences"})
    visual_rft("newlines-in-answer", W("\n" + vr_list([gt[0] + [0.9]]) + "\n"), gt,
               differences={"iou": "visual-rft-multiline", "confidence": "visual-rft-multiline"})
    visual_rft("spaces-in-answer", W("  " + vr_list([gt[0] + [0.9]]) + "  "), gt)
    visual_rft("newline-in-think", W(vr_list([gt[0] + [0.9]]), think="a\nb"), gt)
    visual_rft("trailing-comma", W(vr_list([gt[0] + [0.9]])[:-1] + ",]"), gt,
               differences={"iou": "lenient-json", "confidence": "lenient-json"})
    visual_rft("confidence-over-1", W(vr_list([gt[0] + [1.5], rand_box() + [0.2]])), gt,
               differences={"confidence": "confidence-clamp"})
    visual_rft("confidence-negative", W(vr_list([rand_box() + [-0.5], gt[0] + [0.6]])), gt,
               differences={"confidence": "confidence-clamp"})
    visual_rft("float-positions", W(vr_list([[v + 0.5 for v in gt[0]] + [0.8]])), gt)
    visual_rft("out-of-range", W(vr_list([[-20, gt[0][1], 1040, gt[0][3]] + [0.8]])), gt)
    visual_rft("no-think", f"<answer>{vr_list([gt[0] + [0.9]])}</answer>", gt)
    visual_rft("two-answers", W(vr_list([gt[0] + [0.9]])) + W(vr_list([rand_box() + [0.9]])), gt)
    visual_rft("trailing-newline", W(vr_list([gt[0] + [0.9]])) + "\n", gt)
    visual_rft("text-before", "Sure. " + W(vr_list([gt[0] + [0.9]])), gt)
    visual_rft("swapped-corners", W(vr_list([[gt[0][2], gt[0][3], gt[0][0], gt[0][1], 0.6], gt[0] + [0.9]])), gt,
               differences={"iou": "degenerate-boxes", "confidence": "degenerate-boxes"})
for _ in range(5):
    visual_rft("negative-no-objects", W("No Objects"), [],
               differences={"iou": "visual-rft-negatives", "confidence": "visual-rft-negatives"})
    visual_rft("negative-empty-list", W("[]"), [],
               differences={"iou": "visual-rft-negatives", "confidence": "visual-rft-negatives"})
    visual_rft("negative-boxes", W(vr_list([rand_box() + [conf()]])), [],
               differences={"confidence": "visual-rft-negatives"})
    gt = [rand_box()]
    visual_rft("positive-no-objects", W("No Objects"), gt)
    visual_rft("positive-empty-list", W("[]"), gt)
for _ in range(8):
    gt = [rand_box() for _ in range(rng.randint(1, 3))]
    pred = [jitter(b, 15) + [conf()] for b in gt]
    visual_rft("other-image-size", W(vr_list(pred)), gt, image=(500, 400))

# ---------------------------------------------------------------- VLM-R1 odLength
OW, OH = 560, 420
LABELS = ["dog", "cat", "car", "person"]


def ovd_json(items, fence="```json"):
    body = json.dumps([dict(({"bbox_2d": b} if b is not None else {}), **({"label": l} if l is not None else {}))
                       for b, l in items])
    return f"{fence}\n{body}\n```" if fence else body


def rand_px():
    x1 = rng.randint(0, OW - 60)
    y1 = rng.randint(0, OH - 60)
    return [x1, y1, rng.randint(x1 + 30, min(OW, x1 + 250)), rng.randint(y1 + 30, min(OH, y1 + 250))]


def ovd(kind, completion, gt, differences=None, none_gt=False):
    sol = "<answer>None</answer>" if none_gt else "<answer>" + ovd_json(gt) + "</answer>"
    with contextlib.redirect_stdout(io.StringIO()):
        value = up.odLength_reward(completion, sol)
    add("vlm-r1-od", kind, completion,
        {"boxes": [{"x1": b[0], "y1": b[1], "x2": b[2], "y2": b[3], "label": l} for b, l in gt]},
        {"image": {"width": OW, "height": OH}},
        {"od_length": float(value), **fmt(completion)}, differences)


def ovd_gt():
    return [(rand_px(), rng.choice(LABELS)) for _ in range(rng.randint(1, 3))]


def pxj(b, d):
    return [max(0, min(OW if i % 2 == 0 else OH, v + rng.randint(-d, d))) for i, v in enumerate(b)]


for _ in range(25):
    gt = ovd_gt()
    ovd("perfect", W(ovd_json(gt)), gt)
for _ in range(25):
    gt = ovd_gt()
    ovd("partial", W(ovd_json([(pxj(b, rng.choice([4, 15, 40])), l) for b, l in gt])), gt)
for _ in range(15):
    gt = ovd_gt()
    ovd("extra-boxes", W(ovd_json(gt + [(rand_px(), rng.choice(LABELS)) for _ in range(rng.randint(1, 3))])), gt)
for _ in range(6):
    gt = ovd_gt()
    ovd("unasked-label", W(ovd_json(gt + [(rand_px(), "zebra")])), gt)
    ovd("no-label", W(ovd_json(gt + [(rand_px(), None)])), gt)
    ovd("duplicates", W(ovd_json(gt + [gt[0]])), gt)
    ovd("wrong-labels", W(ovd_json([(b, "zebra") for b, _ in gt])), gt)
    ovd("label-case", W(ovd_json([(b, l.upper()) for b, l in gt])), gt, differences={"od_length": "label-case"})
    ovd("no-answer-tag", "<think>x</think>" + ovd_json(gt), gt)
    ovd("truncated", "<think>x</think><answer>" + ovd_json(gt)[:-9], gt)
    ovd("plain-fence", W(ovd_json(gt, fence="```")), gt, differences={"od_length": "fences"})
    ovd("bare-json", W(ovd_json(gt, fence=None)), gt, differences={"od_length": "fences"})
    ovd("malformed-item", W(ovd_json(gt + [(gt[0][0][:3], gt[0][1])])), gt)
    ovd("broken-json", W(ovd_json(gt)[:-6] + ",]\n```"), gt, differences={"od_length": "lenient-json"})
    ovd("two-answers", W(ovd_json([(rand_px(), "dog")])) + W(ovd_json(gt)), gt,
        differences={"od_length": "od-last-answer"})
    ovd("whitespace", W("\n\n  " + ovd_json(gt) + "  \n"), gt)
    ovd("out-of-frame", W(ovd_json([([-15, b[1], b[2], b[3] + 30], l) for b, l in gt])), gt,
        differences={"od_length": "clamping"})
for _ in range(4):
    ovd("negative-none", W("None"), [], none_gt=True)
    ovd("negative-empty-list", W("```json\n[]\n```"), [], none_gt=True)
    ovd("negative-prose", W("There is no such object."), [], none_gt=True)
    ovd("negative-boxes", W(ovd_json([(rand_px(), "dog")])), [], none_gt=True)
    ovd("negative-unasked-box", W(ovd_json([(rand_px(), "zebra")])), [], none_gt=True)
    ovd("positive-none", W("None"), ovd_gt())

# ---------------------------------------------------------------- VLM-R1 REC
IW, IH = 640, 480
RW, RH = 644, 476  # transformers' smart_resize(480, 640)
tmp = tempfile.mkdtemp()
image_path = os.path.join(tmp, "rec.png")
Image.new("RGB", (IW, IH)).save(image_path)
grid = [1, RH // 14, RW // 14]


def rec(kind, completion, gt, differences=None):
    kwargs = {"image_grid_thw": [grid], "image_path": [[image_path]]}
    value = up.iou_reward(msg(completion), [f"<answer>{json.dumps(gt)}</answer>"], **kwargs)[0]
    rf = up.format_reward_rec(msg(completion))[0]
    add("vlm-r1-rec", kind, completion, {"boxes": [{"x1": gt[0], "y1": gt[1], "x2": gt[2], "y2": gt[3]}]},
        {"image": {"width": IW, "height": IH}, "resized": {"width": RW, "height": RH}},
        {"rec_iou": value, "rec_format": rf, **fmt(completion)}, differences)


def to_resized(b):
    return [round(b[0] * RW / IW), round(b[1] * RH / IH), round(b[2] * RW / IW), round(b[3] * RH / IH)]


def rec_gt():
    x1, y1 = rng.randint(0, IW - 80), rng.randint(0, IH - 80)
    return [x1, y1, rng.randint(x1 + 40, min(IW, x1 + 300)), rng.randint(y1 + 40, min(IH, y1 + 300))]


def rj(b, d):
    return [max(0, min(RW if i % 2 == 0 else RH, v + rng.randint(-d, d))) for i, v in enumerate(b)]


def L(b, sep=", "):
    return "[" + sep.join(str(v) for v in b) + "]"


for _ in range(20):
    g = rec_gt()
    rec("perfect", W(json.dumps([{"bbox_2d": to_resized(g), "label": "the car"}])), g)
for _ in range(20):
    g = rec_gt()
    rec("partial", W("```json\n" + json.dumps([{"bbox_2d": rj(to_resized(g), rng.choice([3, 10, 40]))}]) + "\n```"), g)
for _ in range(5):
    g = rec_gt()
    r = to_resized(g)
    rec("bbox-key", W('{"bbox": ' + L(r) + "}"), g)
    rec("prose", W(f"The car is at {L(r)}."), g)
    rec("no-spaces", W("{'bbox_2d':" + L(r, ",") + "}"), g)
    rec("two-boxes", W(json.dumps([{"bbox_2d": rj(r, 50)}, {"bbox_2d": r}])), g)
    rec("floats", W(json.dumps([{"bbox_2d": [v + 0.5 for v in r]}])), g)
    rec("space-before-comma", W("[" + " , ".join(str(v) for v in r) + "]"), g)
    rec("no-answer-tag", "<think>x</think>" + json.dumps([{"bbox_2d": r}]), g)
    rec("truncated", "<think>x</think><answer>" + json.dumps([{"bbox_2d": r}]), g)
    rec("newlines", W("\n```json\n[\n  {\"bbox_2d\": " + L(r) + ", \"label\": \"x\"}\n]\n```\n"), g)
    rec("no-box", W("I cannot find it."), g)
    rec("beyond-frame", W(json.dumps([{"bbox_2d": [r[0], r[1], RW + 40, r[3]]}])), g,
        differences={"rec_iou": "clamping"})
    rec("negative-number", W(json.dumps([{"bbox_2d": [-5, r[1], r[2], r[3]]}])), g)
    rec("trailing-text", W(json.dumps({"bbox_2d": r})) + " done", g)
    rec("no-think", "<answer>" + json.dumps({"bbox_2d": r}) + "</answer>", g)
    n = [round(g[0] * 1000 / IW), round(g[1] * 1000 / IH), round(g[2] * 1000 / IW), round(g[3] * 1000 / IH)]
    rec("box-tokens", W(f"<|box_start|>({n[0]},{n[1]}),({n[2]},{n[3]})<|box_end|>"), g,
        differences={"rec_iou": "rec-box-tokens"})
    # Touching within a pixel: upstream's iou() needs an overlap wider than 1 px.
    e = round(g[2] * RW / IW)
    rec("one-pixel-overlap", W(L([e - 1, r[1], min(RW, e + 60), r[3]])), g,
        differences={"rec_iou": "one-pixel-overlap"})

out = os.path.join(ROOT, "test", "fixtures", "rewards-upstream", "corpus.json")
os.makedirs(os.path.dirname(out), exist_ok=True)
with open(out, "w") as f:
    json.dump({"generatedBy": "tools/reference/rewards-upstream/make_corpus.py",
               "upstream": {"Liuziyu77/Visual-RFT": "94866331ff38c516581697882a00f947c8bfda8a",
                            "om-ai-lab/VLM-R1": "90052f478646e38bc67363862f699b7afca6b337"},
               "cases": cases}, f, indent=1)
print(f"{len(cases)} cases → {out}")
