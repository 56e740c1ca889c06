"""Image-processor fixtures for vrft's Qwen2-VL / Qwen2.5-VL processor, made by transformers itself.

transformers 5.18's Qwen2-VL image processor, the PIL one (`Qwen2VLImageProcessorPil`: what
AutoImageProcessor gives without torchvision, and what this script asserts it gives here), with
the settings of test/fixtures/qwen/qwen2-vl/checkpoint/preprocessor_config.json ("checkpoint":
min_pixels 3136, max_pixels 313600) and, for some images, the hub's ("hub": max 12,845,056).

  images/<name>.png    deterministic test pictures (smooth gradients, flat shapes, a hard-edged
                       checkerboard and a small noisy patch; one RGBA with varying alpha)
  resized/<name>.<W>x<H>.png   Pillow's `convert('RGB').resize(size, BICUBIC)` of the picture,
                       asserted equal to the image transformers resized internally
  pixels.safetensors   F32 pixel_values rows: all of them for small images, every k-th for big ones
  cases.json           per image × settings: resized size, image_grid_thw, rows, which rows are
                       stored, a SHA-256 of all of pixel_values' float32 little-endian bytes and
                       their exact (math.fsum) sum; smart_resize cases (with the errors it raises);
                       Pillow BICUBIC cases on small random uint8 images at several up/down
                       factors (each source's bytes once, then each size's output; base64)

transformers' arithmetic, asserted here: pixel value = f32((f32(u8·(1/255)) − f32(mean)) / f32(std))
(numpy: rescale in float64 then cast to float32, normalize in float32).

    /work/venv/bin/python tools/reference/qwen_processor.py
"""
import base64
import hashlib
import json
import math
from pathlib import Path

import numpy as np
import PIL
from PIL import Image
from safetensors.numpy import save_file
import transformers
from transformers import AutoImageProcessor
from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil, smart_resize

ROOT = Path(__file__).resolve().parents[2]
CHECKPOINT = ROOT / "test" / "fixtures" / "qwen" / "qwen2-vl" / "checkpoint"
OUT = ROOT / "test" / "fixtures" / "qwen" / "processor"
HUB_MAX = 28 * 28 * 16384
FULL_ROWS = 160  # store every row up to this many; beyond, about STRIDED_ROWS of them
STRIDED_ROWS = 12


def picture(width, height, seed, alpha=False):
    """Gradients, a flat rectangle and disc (hard edges: bicubic overshoots and clips), a 0/255
    checkerboard and a 12×12 noisy patch; PNG keeps all of it small."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    rgb = np.stack([
        128 + 110 * np.sin(x / (9 + seed)) * np.cos(y / 13),
        255 * x / max(1, width - 1),
        255 * y / max(1, height - 1),
    ], axis=-1)
    rgb[height // 5: height // 2, width // 6: width // 2] = (200, 30, 40)
    disc = (x - 0.7 * width) ** 2 + (y - 0.65 * height) ** 2 < (0.18 * min(width, height)) ** 2
    rgb[disc] = (20, 210, 60)
    cy, cx = int(0.75 * height), int(0.1 * width)
    board = ((x[cy:cy + 16, cx:cx + 16] + y[cy:cy + 16, cx:cx + 16]) % 2) * 255
    rgb[cy:cy + 16, cx:cx + 16] = board[..., None]
    ny, nx = int(0.1 * height), int(0.8 * width)
    patch = rgb[ny:ny + 12, nx:nx + 12]
    patch[:] = rng.integers(0, 256, patch.shape)
    pixels = np.clip(np.round(rgb), 0, 255).astype(np.uint8)
    if alpha:
        a = np.clip(np.round(255 * x / max(1, width - 1) * (y % 3 != 0)), 0, 255).astype(np.uint8)
        return Image.fromarray(np.dstack([pixels, a]), "RGBA")
    return Image.fromarray(pixels, "RGB")


# name → (width, height, seed, alpha, settings to run)
IMAGES = {
    "square_224": (224, 224, 1, False, ["checkpoint"]),
    "photo_640x480": (640, 480, 2, False, ["checkpoint", "hub"]),
    "tall_97x301": (97, 301, 3, False, ["checkpoint"]),
    "large_1024x768": (1024, 768, 4, False, ["checkpoint", "hub"]),
    "tiny_20x30": (20, 30, 5, False, ["checkpoint"]),
    "rgba_150x100": (150, 100, 6, True, ["checkpoint"]),
}


def settings():
    cfg = json.loads((CHECKPOINT / "preprocessor_config.json").read_text())
    checkpoint = {k: v for k, v in cfg.items() if k not in ("image_processor_type", "processor_class")}
    return {"checkpoint": checkpoint, "hub": {**checkpoint, "max_pixels": HUB_MAX}}


def unpatchify(rows, grid, proc):
    """The processor's rows (no rescale, no normalize) back to an H×W×C uint8 image, frame 0."""
    _, gh, gw = grid
    c, t, p, m = 3, proc.temporal_patch_size, proc.patch_size, proc.merge_size
    r = rows.reshape(gh // m, gw // m, m, m, c, t, p, p)
    assert np.array_equal(r[:, :, :, :, :, 0], r[:, :, :, :, :, -1])
    r = r[:, :, :, :, :, 0].transpose(4, 0, 2, 5, 1, 3, 6).reshape(c, gh * p, gw * p)
    assert np.array_equal(r, np.round(r))
    return r.transpose(1, 2, 0).astype(np.uint8)


def pixel_values_from(resized, proc):
    """transformers' arithmetic on Pillow's uint8 output, then the patch layout (QWEN.md §2.5)."""
    mean = np.array(proc.image_mean, dtype=np.float32)
    std = np.array(proc.image_std, dtype=np.float32)
    scaled = (resized.astype(np.float64) * (1 / 255)).astype(np.float32)
    chw = ((scaled - mean) / std).astype(np.float32).transpose(2, 0, 1)
    c, h, w = chw.shape
    p, m, t = proc.patch_size, proc.merge_size, proc.temporal_patch_size
    r = chw.reshape(c, h // p // m, m, p, w // p // m, m, p).transpose(1, 4, 2, 5, 0, 3, 6)
    r = np.broadcast_to(r[:, :, :, :, :, None], (*r.shape[:5], t, p, p))
    return r.reshape(-1, c * t * p * p)


def image_cases(tensors):
    (OUT / "images").mkdir(parents=True, exist_ok=True)
    (OUT / "resized").mkdir(parents=True, exist_ok=True)
    auto = AutoImageProcessor.from_pretrained(CHECKPOINT)
    assert type(auto) is Qwen2VLImageProcessorPil, f"expected the PIL processor, got {type(auto)}"
    cases = []
    for name, (width, height, seed, alpha, runs) in IMAGES.items():
        file = OUT / "images" / f"{name}.png"
        picture(width, height, seed, alpha).save(file, optimize=True)
        for run in runs:
            proc = Qwen2VLImageProcessorPil(**settings()[run])
            with Image.open(file) as opened:
                batch = proc(images=[opened], return_tensors="np")
                plain = proc(images=[opened], do_rescale=False, do_normalize=False, return_tensors="np")
                rgb = opened.convert("RGB")
            if run == "checkpoint":
                with Image.open(file) as opened:
                    same = auto(images=[opened], return_tensors="np")["pixel_values"]
                assert np.array_equal(same, batch["pixel_values"])
            values = batch["pixel_values"]
            grid = batch["image_grid_thw"][0].tolist()
            assert values.dtype == np.float32 and grid[0] == 1
            resized_h, resized_w = grid[1] * proc.patch_size, grid[2] * proc.patch_size
            assert (resized_h, resized_w) == smart_resize(
                height, width, 28, proc.size.shortest_edge, proc.size.longest_edge
            )
            pillow = np.asarray(rgb.resize((resized_w, resized_h), Image.Resampling.BICUBIC))
            assert np.array_equal(unpatchify(plain["pixel_values"], grid, proc), pillow)
            assert np.array_equal(pixel_values_from(pillow, proc), values)
            # Settings that resize to the same size share one file (640×480: 644×476 under both).
            resized_name = f"resized/{name}.{resized_w}x{resized_h}.png"
            Image.fromarray(pillow, "RGB").save(OUT / resized_name, optimize=True)

            rows = values.shape[0]
            stride = 1 if rows <= FULL_ROWS else max(1, rows // STRIDED_ROWS)
            stored = list(range(0, rows, stride))
            if stored[-1] != rows - 1:
                stored.append(rows - 1)
            key = f"{name}.{run}"
            tensors[key] = np.ascontiguousarray(values[stored])
            cases.append({
                "name": name,
                "settings": run,
                "image": f"images/{name}.png",
                "mode": "RGBA" if alpha else "RGB",
                "size": {"width": width, "height": height},
                "min_pixels": proc.size.shortest_edge,
                "max_pixels": proc.size.longest_edge,
                "resized": {"width": resized_w, "height": resized_h},
                "resized_image": resized_name,
                "image_grid_thw": grid,
                "rows": rows,
                "row_width": values.shape[1],
                "tensor": key,
                "stored_rows": stored,
                "sha256": hashlib.sha256(np.ascontiguousarray(values, dtype="<f4").tobytes()).hexdigest(),
                "fsum": math.fsum(values.astype(np.float64).ravel().tolist()),
            })
            print(f"{key}: {width}×{height} → {resized_w}×{resized_h}, grid {grid}, "
                  f"{len(stored)}/{rows} rows stored")
    return cases


def smart_resize_cases():
    rng = np.random.default_rng(7)
    sizes = [
        (224, 224), (480, 640), (768, 1024), (1080, 1920), (30, 20), (301, 97),
        (70, 98),    # 2.5 → 2 (56) and 3.5 → 4 (112): Python rounds half to even
        (42, 126),   # 1.5 → 2, 4.5 → 4
        (14, 14),    # 0.5 → 0: h_bar 0, then the min_pixels branch
        (10, 1000),  # h_bar 0 (not clamped to 28 first): the min branch, not 28×1008
        (1, 200),    # aspect exactly 200 is allowed
        (200, 1),
        (1, 201), (301, 1), (3, 700),  # aspect over 200: an error
        (4000, 3000), (5000, 5000), (28, 28), (56, 56), (100, 100000 // 500),
    ]
    sizes += [(int(rng.integers(1, 5000)), int(rng.integers(1, 5000))) for _ in range(150)]
    sizes += [(int(rng.integers(1, 80)), int(rng.integers(1, 80))) for _ in range(50)]
    limits = [(3136, 313600), (3136, HUB_MAX), (3136, 28 * 28 * 1280), (3136, 50000), (200704, 1003520)]
    cases = []
    for h, w in sizes:
        for lo, hi in limits:
            case = {"height": h, "width": w, "min_pixels": lo, "max_pixels": hi}
            try:
                rh, rw = smart_resize(h, w, 28, lo, hi)
                case["resized"] = {"height": rh, "width": rw}
            except ValueError as error:
                case["error"] = str(error)
            cases.append(case)
    # max_pixels so small that floor(h/β/28) is 0 on one side: clamped to 28 (area then over max).
    for h, w, lo, hi in [(30, 5900, 3136, 50000), (5900, 30, 3136, 50000)]:
        rh, rw = smart_resize(h, w, 28, lo, hi)
        cases.append({"height": h, "width": w, "min_pixels": lo, "max_pixels": hi,
                      "resized": {"height": rh, "width": rw}})
    return cases


def b64(array):
    return base64.b64encode(np.ascontiguousarray(array, dtype=np.uint8).tobytes()).decode()


def bicubic_cases():
    """Pillow BICUBIC on random uint8 RGB (random bytes overshoot and clip often)."""
    rng = np.random.default_rng(11)
    sources = {
        (13, 11): [(26, 22), (39, 33), (5, 4), (13, 5), (6, 11), (1, 1), (40, 3), (3, 40), (13, 11),
                   (14, 12), (12, 10), (100, 2)],
        (37, 29): [(12, 9), (17, 29), (37, 58), (100, 80), (36, 30), (2, 29)],
        (160, 120): [(47, 35), (28, 28), (161, 119), (56, 140), (7, 3)],
    }
    cases = []
    for (w, h), targets in sources.items():
        src = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        image = Image.fromarray(src, "RGB")
        resized = []
        for tw, th in targets:
            out = np.asarray(image.resize((tw, th), Image.Resampling.BICUBIC))
            resized.append({"width": tw, "height": th, "rgb": b64(out)})
        cases.append({"width": w, "height": h, "rgb": b64(src), "resized": resized})
    return cases


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    tensors = {}
    data = {
        "made_by": f"transformers {transformers.__version__}, Pillow {PIL.__version__}, numpy {np.__version__}",
        "processor": "Qwen2VLImageProcessorPil",
        "images": image_cases(tensors),
        "smart_resize": smart_resize_cases(),
        "bicubic": bicubic_cases(),
    }
    save_file(tensors, OUT / "pixels.safetensors")
    (OUT / "cases.json").write_text(json.dumps(data, separators=(",", ":")) + "\n")
    total = sum(f.stat().st_size for f in OUT.rglob("*") if f.is_file())
    print(f"wrote {OUT.relative_to(ROOT)}: {total / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
