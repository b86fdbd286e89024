"""Benchmark: one training sample (224 px crop + augmentation) read from the prepared cache, versus decoding a
MIMIC-sized JPEG (~2,500 x 3,000) and resizing it for every sample as MGCA's data loader does. Same run, same
augmentation code, medians over repeated samples; prints the speed-up ratio (target >= 10x).

    python bench/bench_cache.py [--n 40] [--files 6]
"""
import argparse, statistics, sys, tempfile, time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from cxr_graphalign.core import shared_data_dir
from cxr_graphalign.data.core import ImageRecord, Study
from cxr_graphalign.data.decode import decode_image, resize_pad
from cxr_graphalign.data.cache import prepare, CacheDataset


def make_mimic_sized_jpegs(out: Path, n: int) -> list[Path]:
    "Upscale real radiographs to 2,500 x 3,000 JPEGs (quality 95, like MIMIC-CXR-JPG) in `out`."
    src = shared_data_dir("test-images")
    covid = shared_data_dir("covid-cxr", "images512")
    sources = sorted(src.glob("*.png"))[:3] + sorted(src.glob("*.jpg")) if src else []
    if covid: sources += sorted(covid.glob("*.png"))[:n]
    if not sources:  # no shared data: a synthetic chest-like gradient still measures decoding cost
        yy, xx = np.mgrid[0:512, 0:512]
        sources = [np.clip(128 + 100*np.sin(xx/37 + i) * np.cos(yy/53), 0, 255).astype(np.uint8) for i in range(n)]
    files = []
    for i, s in enumerate(sources[:n]):
        img = Image.fromarray(decode_image(s)) if isinstance(s, Path) else Image.fromarray(s)
        f = out/f"mimic_sized_{i}.jpg"
        img.resize((2500, 3000), Image.BICUBIC).save(f, quality=95)
        files.append(f)
    return files


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=40, help="samples timed per method")
    p.add_argument("--files", type=int, default=6, help="MIMIC-sized JPEGs to make")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as t:
        t = Path(t)
        files = make_mimic_sized_jpegs(t, args.files)
        studies = [Study(f"s{i}", f"p{i}", "bench", [ImageRecord(str(f))], {"findings": "No acute process."}) for i, f in enumerate(files)]
        prepare(None, out=t/"cache", studies=studies, size=256, n_workers=0, progress=False)
        ds = CacheDataset(t/"cache", augment=True, crop=224)
        aug = ds._augment                      # the identical augmentation for both pipelines
        no_boxes = np.zeros((0, 4), np.float32)

        def from_jpeg(i):                      # MGCA-style: full decode + aspect-preserving resize + pad, every sample
            img, _ = resize_pad(decode_image(files[i % len(files)]), 256)
            return aug(img, no_boxes)[0]

        def from_cache(i):
            return ds[i % len(ds)]["image"]

        for f in (from_jpeg, from_cache): f(0)  # warm-up (imports, page cache)
        times = {}
        for name, f in (("decode JPEG + resize", from_jpeg), ("cache", from_cache)):
            ts = []
            for i in range(args.n):
                t0 = time.perf_counter(); out = f(i); ts.append(time.perf_counter() - t0)
                assert out.shape == (1, 224, 224)
            times[name] = statistics.median(ts)
        w, h = Image.open(files[0]).size
        print(f"source JPEGs: {len(files)} x {w}x{h}; {args.n} samples each, 224 px crop + augmentation, 1 thread")
        for k, v in times.items(): print(f"  {k:22s} median {v*1e3:8.2f} ms/sample")
        ratio = times["decode JPEG + resize"] / times["cache"]
        print(f"cache speed-up: {ratio:.1f}x (target >= 10x)")
        return 0 if ratio >= 10 else 1


if __name__ == "__main__":
    sys.exit(main())
