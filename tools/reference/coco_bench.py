"""The large COCO case for bench/eval-map.js: 5,000 images, 80 categories, ~50 detections per
image, written as GT and detection files, then timed with pycocotools (evaluate + accumulate +
summarize). Prints one JSON line: {"seconds": …, "stats": [...]}.

    python tools/reference/coco_bench.py OUT_DIR [--images 5000] [--seed 0]
"""
import argparse
import contextlib
import io
import json
import time
from pathlib import Path

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval


def make(images, categories, seed):
    rng = np.random.default_rng(seed)
    anns, dets = [], []
    for image_id in range(1, images + 1):
        W, H = 640, 480
        n_gt = int(rng.integers(2, 12))
        for _ in range(n_gt):
            w, h = float(rng.uniform(8, 300)), float(rng.uniform(8, 300))
            x, y = float(rng.uniform(0, W - w)), float(rng.uniform(0, H - h))
            cat = int(rng.integers(1, categories + 1))
            anns.append({"id": len(anns) + 1, "image_id": image_id, "category_id": cat, "bbox": [x, y, w, h],
                         "area": w * h, "iscrowd": int(rng.random() < 0.02)})
            for _ in range(int(rng.integers(1, 4))):
                jx, jy = rng.normal(0, 0.1 * w), rng.normal(0, 0.1 * h)
                dets.append({"image_id": image_id, "category_id": cat if rng.random() < 0.9 else int(rng.integers(1, categories + 1)),
                             "bbox": [x + jx, y + jy, w * float(rng.uniform(0.8, 1.2)), h * float(rng.uniform(0.8, 1.2))],
                             "score": float(rng.random())})
        for _ in range(int(rng.integers(25, 45))):
            w, h = float(rng.uniform(4, 200)), float(rng.uniform(4, 200))
            dets.append({"image_id": image_id, "category_id": int(rng.integers(1, categories + 1)),
                         "bbox": [float(rng.uniform(0, W - w)), float(rng.uniform(0, H - h)), w, h], "score": float(rng.random())})
    gt = {"images": [{"id": i, "width": 640, "height": 480} for i in range(1, images + 1)],
          "annotations": anns, "categories": [{"id": c, "name": f"category {c}"} for c in range(1, categories + 1)]}
    return gt, dets


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--categories", type=int, default=80)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    gt, dets = make(args.images, args.categories, args.seed)
    (out / "gt.json").write_text(json.dumps(gt))
    (out / "dt.json").write_text(json.dumps(dets))
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO(str(out / "gt.json"))
        coco_dt = coco_gt.loadRes(str(out / "dt.json"))
        ev = COCOeval(coco_gt, coco_dt, "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "detections": len(dets), "stats": [float(s) for s in ev.stats]}))


if __name__ == "__main__":
    main()
