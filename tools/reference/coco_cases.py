"""Reference COCO box-AP cases for vrft's evaluator, computed by pycocotools.

Writes test/fixtures/coco/cases.json: a list of {name, gt, dt, stats, perCategoryAP}. The TS
evaluator must equal every number to 1e-6. Run from the repo root, in a venv outside the repo:

    python -m venv ~/vrft-ref && ~/vrft-ref/bin/pip install pycocotools numpy
    ~/vrft-ref/bin/python tools/reference/coco_cases.py
"""
import contextlib
import io
import json
import random
import sys
from pathlib import Path

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

OUT = Path(__file__).resolve().parents[2] / "test" / "fixtures" / "coco" / "cases.json"


def coco_from(dataset):
    coco = COCO()
    coco.dataset = json.loads(json.dumps(dataset))
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def evaluate(gt, dt):
    coco_gt = coco_from(gt)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        if dt:
            coco_dt = coco_gt.loadRes(json.loads(json.dumps(dt)))
        else:
            # loadRes cannot take an empty list; this is the index it would have built.
            coco_dt = coco_from({"images": gt["images"], "categories": gt["categories"], "annotations": []})
        ev = COCOeval(coco_gt, coco_dt, "bbox")
        ev.evaluate()
        ev.accumulate()
        summary_start = printed.tell()
        ev.summarize()
    precision = ev.eval["precision"]
    per_cat = {}
    for k, cat_id in enumerate(ev.params.catIds):
        p = precision[:, :, k, 0, -1]
        p = p[p > -1]
        per_cat[str(cat_id)] = float(np.mean(p)) if p.size else -1.0
    summary = printed.getvalue()[summary_start:]
    return [float(s) for s in ev.stats], per_cat, summary


def box(rng, w, h, min_side=2.0):
    bw = rng.uniform(min_side, w * 0.6)
    bh = rng.uniform(min_side, h * 0.6)
    return [rng.uniform(0, w - bw), rng.uniform(0, h - bh), bw, bh]


def jitter(rng, b, amount):
    x, y, w, h = b
    return [x + rng.gauss(0, amount * w), y + rng.gauss(0, amount * h), max(0.5, w * rng.uniform(0.8, 1.2)), max(0.5, h * rng.uniform(0.8, 1.2))]


def random_case(seed, n_images=12, n_cats=4, gt_per_image=(0, 6), fp_rate=1.0, crowd_rate=0.0, size=(640, 480), tie_scores=False):
    rng = random.Random(seed)
    W, H = size
    images = [{"id": i + 1, "width": W, "height": H} for i in range(n_images)]
    cats = [{"id": c + 1, "name": f"c{c + 1}"} for c in range(n_cats)]
    anns, dts = [], []
    for img in images:
        for _ in range(rng.randint(*gt_per_image)):
            b = box(rng, W, H)
            cat = rng.randint(1, n_cats)
            crowd = 1 if rng.random() < crowd_rate else 0
            anns.append({"id": len(anns) + 1, "image_id": img["id"], "category_id": cat, "bbox": b, "area": b[2] * b[3], "iscrowd": crowd})
            if rng.random() < 0.8:
                dts.append({"image_id": img["id"], "category_id": cat, "bbox": jitter(rng, b, 0.08), "score": round(rng.random(), 1) if tie_scores else rng.random()})
        for _ in range(int(rng.random() * 4 * fp_rate)):
            dts.append({"image_id": img["id"], "category_id": rng.randint(1, n_cats), "bbox": box(rng, W, H), "score": round(rng.random(), 1) if tie_scores else rng.random()})
    rng.shuffle(dts)
    return {"images": images, "annotations": anns, "categories": cats}, dts


def iou_exact_case():
    # IoU of exactly 0.5 and 0.75 (pycocotools matches at iou >= threshold).
    images = [{"id": 1}, {"id": 2}]
    cats = [{"id": 1}]
    gt = [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 100, 100], "area": 10000, "iscrowd": 0},
          {"id": 2, "image_id": 2, "category_id": 1, "bbox": [0, 0, 100, 100], "area": 10000, "iscrowd": 0}]
    dt = [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 50, 100], "score": 0.9},   # IoU 0.5
          {"image_id": 2, "category_id": 1, "bbox": [0, 0, 75, 100], "score": 0.8}]   # IoU 0.75
    return {"images": images, "annotations": gt, "categories": cats}, dt


def cases():
    out = []
    for i, seed in enumerate([1, 2, 3, 4, 5, 6, 7, 8]):
        out.append((f"random-{seed}", *random_case(seed, n_images=6 + 3 * i, n_cats=2 + i % 5)))
    gt, dt = random_case(11)
    out.append(("no-detections", gt, []))
    gt, dt = random_case(12, n_cats=5)
    gt["annotations"] = [a for a in gt["annotations"] if a["category_id"] != 3]
    dt.append({"image_id": 1, "category_id": 3, "bbox": [10, 10, 50, 50], "score": 0.99})
    out.append(("category-without-gt", gt, dt))
    out.append(("crowd-boxes", *random_case(13, crowd_rate=0.35)))
    gt, dt = random_case(14)
    for a in gt["annotations"]:
        a["iscrowd"] = 1 if a["category_id"] == 2 else 0
    out.append(("category-only-crowd", gt, dt))
    out.append(("tied-scores", *random_case(15, tie_scores=True)))
    gt, dt = random_case(16, n_images=1, n_cats=2, gt_per_image=(40, 40))
    rng = random.Random(16)
    dt = [{"image_id": 1, "category_id": rng.randint(1, 2), "bbox": jitter(rng, a["bbox"], 0.05) if rng.random() < 0.5 else box(rng, 640, 480), "score": rng.random()}
          for a in gt["annotations"] for _ in range(4)]
    out.append(("over-100-detections", gt, dt))
    rng = random.Random(17)
    images = [{"id": i} for i in range(1, 9)]
    anns, dts = [], []
    for img in images:
        for side in [4, 20, 31.99, 32, 32.01, 60, 96, 96.01, 200, 600]:
            b = [rng.uniform(0, 50), rng.uniform(0, 50), side, side]
            anns.append({"id": len(anns) + 1, "image_id": img["id"], "category_id": 1 + len(anns) % 2, "bbox": b, "area": side * side, "iscrowd": 0})
            dts.append({"image_id": img["id"], "category_id": anns[-1]["category_id"], "bbox": jitter(rng, b, 0.06), "score": rng.random()})
    out.append(("tiny-and-huge-at-area-boundaries", {"images": images, "annotations": anns, "categories": [{"id": 1}, {"id": 2}]}, dts))
    W, H = 320, 240
    rng = random.Random(18)
    anns, dts = [], []
    for i, b in enumerate([[0, 0, 40, 30], [280, 210, 40, 30], [0, 100, 320, 40], [150, 0, 30, 240], [0, 0, 320, 240]]):
        anns.append({"id": i + 1, "image_id": 1, "category_id": 1, "bbox": b, "area": b[2] * b[3], "iscrowd": 0})
        dts.append({"image_id": 1, "category_id": 1, "bbox": [max(0, b[0] - 1), max(0, b[1] - 1), b[2], b[3]], "score": rng.random()})
    out.append(("boxes-touching-the-border", {"images": [{"id": 1, "width": W, "height": H}], "annotations": anns, "categories": [{"id": 1}]}, dts))
    gt, dt = random_case(19, gt_per_image=(0, 2))
    gt["images"] += [{"id": 100}, {"id": 101}, {"id": 102}]
    dt += [{"image_id": 100, "category_id": 1, "bbox": [5, 5, 50, 50], "score": 0.95}, {"image_id": 101, "category_id": 2, "bbox": [5, 5, 10, 10], "score": 0.2}]
    out.append(("images-without-annotations", gt, dt))
    gt, dt = random_case(20)
    dt += [{"image_id": 1, "category_id": 99, "bbox": [1, 1, 10, 10], "score": 0.9}]
    out.append(("detection-of-unknown-category", gt, dt))
    gt, dt = random_case(21)
    for a in gt["annotations"]:
        a["area"] = a["area"] * 0.6  # segmentation area, not box area
    out.append(("gt-area-not-box-area", gt, dt))
    gt, dt = random_case(22)
    dt += [dict(d) for d in dt[:10]]
    out.append(("duplicate-detections", gt, dt))
    gt, dt = random_case(23)
    dt += [{"image_id": 2, "category_id": 1, "bbox": [10, 10, 0, 20], "score": 0.7}, {"image_id": 3, "category_id": 2, "bbox": [10, 10, 20, 0], "score": 0.9}]
    out.append(("zero-area-detections", gt, dt))
    gt, dt = random_case(24, n_images=10, n_cats=4)
    remap_img = {i: 1000 - 37 * i for i in range(1, 11)}
    remap_cat = {1: 90, 2: 7, 3: 55, 4: 3}
    for x in gt["images"]:
        x["id"] = remap_img[x["id"]]
    for x in gt["annotations"] + dt:
        x["image_id"] = remap_img[x["image_id"]]
        x["category_id"] = remap_cat.get(x["category_id"], x["category_id"])
    for c in gt["categories"]:
        c["id"] = remap_cat[c["id"]]
    gt["images"].reverse()
    gt["categories"].reverse()
    out.append(("unsorted-sparse-ids", gt, dt))
    gt, _ = random_case(25)
    dt = [{"image_id": a["image_id"], "category_id": a["category_id"], "bbox": a["bbox"], "score": 0.5 + 0.5 * (a["id"] % 7) / 7} for a in gt["annotations"]]
    out.append(("perfect-detections", gt, dt))
    gt, dt = random_case(26)
    for d in dt[::3]:
        d["score"] = 0.0
    out.append(("zero-scores", gt, dt))
    out.append(("iou-exactly-at-thresholds", *iou_exact_case()))
    gt, dt = random_case(27)
    gt["annotations"][0]["id"] = 0  # pycocotools stores the matched GT id; 0 reads as unmatched
    out.append(("gt-annotation-id-zero", gt, dt))
    rng = random.Random(28)
    images = [{"id": i} for i in range(1, 4)]
    anns = [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 100, 100], "area": 10000, "iscrowd": 0}]
    dts = []
    for n, img in zip([1, 10, 100], images):
        anns.append({"id": len(anns) + 1, "image_id": img["id"], "category_id": 1, "bbox": [20, 20, 80, 80], "area": 6400, "iscrowd": 0})
        dts += [{"image_id": img["id"], "category_id": 1, "bbox": [20 + rng.uniform(-30, 30), 20 + rng.uniform(-30, 30), 80, 80], "score": rng.random()} for _ in range(n)]
    out.append(("exactly-1-10-100-detections", {"images": images, "annotations": anns, "categories": [{"id": 1}]}, dts))
    rng = random.Random(31)
    images = [{"id": 1}, {"id": 2}]
    anns = [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 300, 300], "area": 90000, "iscrowd": 1},
            {"id": 2, "image_id": 1, "category_id": 1, "bbox": [350, 350, 60, 60], "area": 3600, "iscrowd": 0},
            {"id": 3, "image_id": 2, "category_id": 1, "bbox": [10, 10, 60, 60], "area": 3600, "iscrowd": 0}]
    dts = [{"image_id": 1, "category_id": 1, "bbox": [rng.uniform(0, 200), rng.uniform(0, 200), 50, 50], "score": 0.6 + 0.4 * rng.random()} for _ in range(6)]
    dts += [{"image_id": 1, "category_id": 1, "bbox": [352, 348, 60, 62], "score": 0.55}, {"image_id": 2, "category_id": 1, "bbox": [12, 10, 58, 60], "score": 0.45}]
    out.append(("crowd-region-many-detections", {"images": images, "annotations": anns, "categories": [{"id": 1}]}, dts))
    out.append(("many-images-few-categories", *random_case(29, n_images=60, n_cats=2, gt_per_image=(0, 3))))
    out.append(("large-images", *random_case(30, size=(4000, 3000), n_images=8)))
    return out


def main():
    results = []
    for name, gt, dt in cases():
        stats, per_cat, summary = evaluate(gt, dt)
        results.append({"name": name, "gt": gt, "dt": dt, "stats": stats, "perCategoryAP": per_cat, "summary": summary})
        print(f"{name:36s} AP {stats[0]:.4f}  AP50 {stats[1]:.4f}  AR100 {stats[8]:.4f}", file=sys.stderr)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, separators=(",", ":")) + "\n")
    print(f"{len(results)} cases → {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
