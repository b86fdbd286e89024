"""Training throughput (images/s) of every tiny method preset through `pretrain_learner`, and the share of step
time spent waiting for data, with ratios against ConVIRT measured in the same run.

    python bench/bench_train.py                       # CPU, data from a cache of covid-cxr (../shared/data), else phantoms
    python bench/bench_train.py --data phantom        # phantoms rendered on the fly (no cache: shows the data wait)
    python bench/bench_train.py --data runs/cache     # a cache written by `cxr-graphalign prepare`
    python bench/bench_train.py --device cuda         # adds bf16, bf16 + channels_last, and + torch.compile variants

A step is everything fastai does for one batch: fetch (DataLoader workers), move to the device, forward, loss,
backward, clipping, AdamW. "data wait" is the time between the end of one step and the start of the next (the
loader not keeping up), as a share of the whole step. Figures are medians over the timed steps (after warm-up).
Target: data wait < 10 % with the cache."""
import argparse, atexit, json, shutil, statistics, sys, tempfile, time
from pathlib import Path


def make_dataset(args, size):
    "A training dataset: a cache (given, or covid-cxr prepared once into a temp folder) or phantoms."
    if args.data == "phantom":
        from cxr_graphalign.data.phantom import PhantomDataset
        return PhantomDataset("iu", size=size, seed=0, masks=False), "phantom (rendered on the fly)"
    from cxr_graphalign.data.cache import CacheDataset, prepare
    if args.data not in (None, "covid-cxr"): return CacheDataset(args.data, augment=True, crop=size), f"cache {args.data}"
    from cxr_graphalign.core import shared_data_dir
    root = shared_data_dir("covid-cxr")
    if root is None:
        print("../shared/data/covid-cxr not found: using phantoms instead of a cache", file=sys.stderr)
        args.data = "phantom"; return make_dataset(args, size)
    from cxr_graphalign.data.core import read_dataset
    tmp = tempfile.mkdtemp(); atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    out = Path(tmp) / "cache"
    studies = read_dataset("covid-cxr", root)[:args.n_studies]
    prepare(None, out=out, studies=studies, size=max(size, 128), n_workers=0, progress=False)
    return CacheDataset(out, augment=True, crop=size), f"cache of {len(studies)} covid-cxr studies"


def time_preset(method, ds, args, variant="fp32"):
    "Train `method` for warm-up + timed steps; return images/s and the data-wait share."
    import torch
    from fastai.callback.core import Callback
    from cxr_graphalign.core import set_seed, default_device
    from cxr_graphalign.models import create_model
    from cxr_graphalign.train import pretrain_dataloaders, pretrain_learner
    dev = default_device(args.device)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    set_seed(0)
    model = create_model(method, image__img_size=args.size).to(dev)
    channels_last = "channels_last" in variant
    if channels_last: model.image_encoder.to(memory_format=torch.channels_last)
    if "compile" in variant: model.image_encoder = torch.compile(model.image_encoder)

    class StepTimer(Callback):
        order = 100
        def __init__(self): self.steps, self.waits, self.prev = [], [], None
        def before_train(self): self.prev = time.perf_counter()
        def before_batch(self):
            if not self.training: return
            if channels_last: self.learn.xb[0]["images"] = self.learn.xb[0]["images"].contiguous(memory_format=torch.channels_last)
            self.start = time.perf_counter()
        def after_batch(self):
            if not self.training: return
            sync(); now = time.perf_counter()
            if self.iter >= args.warmup: self.steps.append(now - self.prev); self.waits.append(self.start - self.prev)
            self.prev = now

    timer = StepTimer()
    dls = pretrain_dataloaders(ds, model, args.batch_size, num_workers=args.workers, seed=0)
    precision = "bf16" if "bf16" in variant else "32"
    learn = pretrain_learner(dls, model, precision=precision, max_steps=args.warmup + args.steps, verbose=False,
                             tensorboard=False, cbs=[timer])
    model.loss.set_progress(1.0)
    learn.fit(1)
    step = statistics.median(timer.steps)
    return {"method": method, "variant": variant, "device": str(dev), "images_per_s": args.batch_size / step,
            "step_ms": 1e3 * step, "data_wait": sum(timer.waits) / sum(timer.steps)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=None, help="'phantom', a cache folder, or covid-cxr (default: covid-cxr cache, else phantom)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--size", type=int, default=64, help="image side (default 64 on CPU; use 224 on a GPU)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--n-studies", type=int, default=96, help="covid-cxr studies to cache")
    p.add_argument("--methods", default=None, help="comma-separated tiny presets (default: all)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    p.add_argument("--json", default=None, help="also write the rows to this file")
    args = p.parse_args(argv)
    import torch
    torch.set_num_threads(args.threads)
    from cxr_graphalign.models import list_methods
    methods = args.methods.split(",") if args.methods else [m for m in list_methods() if m.endswith("-tiny")]
    methods = ["convirt-tiny"] + [m for m in methods if m != "convirt-tiny"]
    ds, what = make_dataset(args, args.size)
    variants = ["fp32"]
    if args.device.startswith("cuda"): variants += ["bf16", "bf16+channels_last", "bf16+channels_last+compile"]
    print(f"data: {what}; {args.size} px, batch {args.batch_size}, {args.workers} loader workers, "
          f"{args.steps} timed steps after {args.warmup} warm-up, device {args.device}")
    rows = []
    for variant in variants:
        base = None
        for m in methods:
            try: r = time_preset(m, ds, args, variant)
            except Exception as e:
                print(f"{m:>16} {variant:<28} failed: {type(e).__name__}: {str(e)[:120]}"); continue
            base = base or (r["images_per_s"] if m == "convirt-tiny" else None)
            r["vs_convirt"] = r["images_per_s"] / base if base else float("nan")
            rows.append(r)
            print(f"{m:>16} {variant:<28} {r['images_per_s']:8.1f} images/s  {r['vs_convirt']:5.2f}x convirt  "
                  f"step {r['step_ms']:7.1f} ms  data wait {100 * r['data_wait']:5.1f} %")
    if args.json: Path(args.json).write_text(json.dumps(rows, indent=2))
    worst = max((r["data_wait"] for r in rows), default=float("nan"))
    print(f"largest data-wait share: {100 * worst:.1f} % (target < 10 % with the cache)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
