"""Training-step time and peak memory of every method preset, relative to ConVIRT measured in the same run.

    python bench/bench_methods.py            # ResNet-50, 224 px, batch 32, BERT-base-size text encoder (random init)
    python bench/bench_methods.py --small    # ResNet-18, 128 px, batch 8, 4-layer 256-d BERT: a quick CPU run
    python bench/bench_methods.py --flops --batch 4 --steps 1 --warmup 0   # full-size towers, FLOP ratios on CPU
    python bench/bench_methods.py --device cuda --precision bf16 --channels-last --batch 128   # a GPU in mixed precision

A step is forward + loss + backward + AdamW update on one pre-collated batch of real IU X-ray reports (even ids)
and random images; collating (tokenising, parsing graphs) happens in DataLoader workers and is timed apart.
Each preset runs in its own process, so the peak memory (CUDA max allocated, or the process's max RSS on CPU)
belongs to that preset alone. Figures are medians over the timed steps; CGA runs with all cascade terms on. `--precision bf16|fp16` runs the step
under `torch.autocast` (fp16 with a gradient scaler, CUDA only), as `cxr-graphalign pretrain --precision` does;
`--channels-last` puts the model and images in NHWC memory format (faster convolutions on tensor cores).
Studies carry a lateral view (`--lateral-fraction`, default all): methods that read it (F-L) encode it, so their
step is also reported **per image** (a two-view study is two images); the others ignore it.
F-L's masked-language pass (a second text-tower pass) runs only on reports with pathology tokens; `--mlm-share S` runs it on
a share S of them (the `key_mlm` part's `share`, 1 in the paper's preset).
Targets: CGA <= 1.3x ConVIRT per step; F-L <= 1.3x ConVIRT per image."""
import argparse, contextlib, json, os, resource, statistics, subprocess, sys, time

PRECISIONS = {"fp32": None, "bf16": "bfloat16", "fp16": "float16"}

def presets() -> list[str]:
    "Every registered method preset but the tiny test variants, and one `+` combination (new presets are timed without editing this file)."
    from cxr_graphalign.models import list_methods
    return [m for m in list_methods() if not m.endswith("-tiny")] + ["cga+place"]  # and one combination

def run_one(method: str, args) -> dict:
    "Time one preset in this process; return its figures."
    import torch
    from cxr_graphalign.core import set_seed, default_device
    from cxr_graphalign.graph import parse_report
    from cxr_graphalign.graph.vocab import ANATOMY_REGIONS
    from cxr_graphalign.models.encoders import iu_report_texts
    from cxr_graphalign.models.presets import create_model
    if args.threads: torch.set_num_threads(args.threads)
    set_seed(0)
    dev = default_device(args.device)
    if args.small: over = dict(image={"name": "resnet18", "img_size": 128}, text={"name": "scratch", "hidden_size": 256, "num_layers": 4, "num_heads": 4})
    else: over = dict(image={"name": "resnet50", "img_size": 224}, text={"name": "scratch", "hidden_size": 768, "num_layers": 12, "num_heads": 12})
    if args.mlm_share < 1:   # F-L's masked text pass on a share of the reports (the `key_mlm` part's `share`)
        from cxr_graphalign.models.presets import method_config
        parts = dict(method_config(method).parts or {})
        if "key_mlm" in parts: over["parts"] = {**parts, "key_mlm": {**parts["key_mlm"], "share": args.mlm_share}}
    model = create_model(method, **over).to(dev).train()
    if args.channels_last: model = model.to(memory_format=torch.channels_last)
    model.loss.set_progress(1.0)
    size = model.config.image.img_size
    texts = iu_report_texts("even")[:args.batch]
    samples = [{"study_id": str(i), "image": torch.rand(1, size, size), "text": t, "graph": parse_report(t),
                "region_boxes": torch.full((len(ANATOMY_REGIONS), 4), float("nan"))} for i, t in enumerate(texts)]
    for s in samples[:round(args.lateral_fraction * len(samples))]: s["lateral"] = torch.rand(1, size, size)
    t0 = time.perf_counter(); batch = model.collate(samples); collate_s = time.perf_counter() - t0
    images = len(samples) + (int(batch["lateral_mask"].sum()) if "lateral_mask" in batch else 0)   # images the step encodes
    batch = {k: v.to(dev) if torch.is_tensor(v) else v for k, v in batch.items()}
    if args.channels_last: batch["images"] = batch["images"].contiguous(memory_format=torch.channels_last)
    amp_dtype = PRECISIONS[args.precision]
    autocast = (lambda: torch.autocast(dev.type, dtype=getattr(torch, amp_dtype))) if amp_dtype else contextlib.nullcontext
    scaler = torch.amp.GradScaler(dev.type) if args.precision == "fp16" else None
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    if dev.type == "cuda": torch.cuda.reset_peak_memory_stats()
    flops = None
    if args.flops:
        from torch.utils.flop_counter import FlopCounterMode
        with FlopCounterMode(display=False) as counter:
            with autocast(): loss = model.loss(model(batch))
            loss.backward()
        flops = counter.get_total_flops()
        opt.zero_grad(set_to_none=True)
    times = []
    for step in range(args.warmup + args.steps):
        sync(); t0 = time.perf_counter()
        with autocast(): loss = model.loss(model(batch))
        opt.zero_grad(set_to_none=True)
        if scaler is None: loss.backward(); opt.step()
        else: scaler.scale(loss).backward(); scaler.step(opt); scaler.update()
        if not torch.isfinite(loss): raise FloatingPointError(f"{method}: non-finite loss {loss.item()} at step {step} in {args.precision}")
        sync()
        if step >= args.warmup: times.append(time.perf_counter() - t0)
    peak = torch.cuda.max_memory_allocated()/2**20 if dev.type == "cuda" else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024
    return {"method": method, "precision": args.precision, "channels_last": args.channels_last, "step_s": statistics.median(times),
            "images": images, "image_s": statistics.median(times) / images, "gflops": None if flops is None else flops/1e9, "collate_s": collate_s, "peak_mib": peak, "device": str(dev),
            "params_m": sum(p.numel() for p in model.parameters())/1e6}

def _cuda() -> bool:
    import torch
    return torch.cuda.is_available()

def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--small", action="store_true", help="small towers and batch for a quick CPU run")
    p.add_argument("--batch", type=int, default=None, help="batch size (default 32, or 8 with --small)")
    p.add_argument("--steps", type=int, default=5, help="timed steps per preset")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    p.add_argument("--methods", nargs="+", default=None, help="presets to time (default: every registered preset but the -tiny ones)")
    p.add_argument("--precision", choices=sorted(PRECISIONS), default="fp32", help="fp32, or autocast in bf16 / fp16 (fp16: CUDA only)")
    p.add_argument("--channels-last", action="store_true", help="model and images in channels-last (NHWC) memory format")
    p.add_argument("--flops", action="store_true", help="also count forward+backward FLOPs of a step (matmul/conv/attention; hardware-independent)")
    p.add_argument("--lateral-fraction", type=float, default=1.0, help="share of studies with a lateral view (read by F-L only)")
    p.add_argument("--mlm-share", type=float, default=1.0, help="share of the reports that get F-L's masked text pass (its key_mlm part's `share`; 1 = the paper)")
    p.add_argument("--one", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.batch is None: args.batch = 8 if args.small else 32
    if args.methods is None: args.methods = presets()
    if args.precision == "fp16" and args.device != "cuda" and not (args.device == "auto" and _cuda()):
        p.error("--precision fp16 needs a CUDA device (--device cuda); use --precision bf16 on CPU")
    if args.one:
        print(json.dumps(run_one(args.one, args))); return 0
    methods = ["convirt"] + [m for m in args.methods if m != "convirt"]
    rows = []
    for m in methods:
        cmd = [sys.executable, __file__, "--one", m, "--batch", str(args.batch), "--steps", str(args.steps), "--warmup", str(args.warmup),
               "--device", args.device, "--threads", str(args.threads), "--precision", args.precision, "--lateral-fraction", str(args.lateral_fraction), "--mlm-share", str(args.mlm_share)] + (["--small"] if args.small else []) \
              + (["--flops"] if args.flops else []) + (["--channels-last"] if args.channels_last else [])
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode != 0:
            print(f"{m}: failed\n{res.stderr[-2000:]}", file=sys.stderr); return 1
        rows.append(json.loads(res.stdout.strip().splitlines()[-1]))
    base = rows[0]["step_s"]
    print(f"device {rows[0]['device']}, batch {args.batch}, {'small' if args.small else 'ResNet-50 224 px + BERT-base size'}, "
          f"{args.precision}{', channels-last' if args.channels_last else ''}, median of {args.steps} steps")
    base_img = rows[0]["image_s"]
    print(f"{'method':10s} {'params M':>9s} {'step s':>8s} {'x ConVIRT':>10s} {'images':>7s} {'x /image':>9s} {'peak MiB':>9s} {'collate s':>10s}")
    flop_base = rows[0]["gflops"]
    for r in rows:
        fl = f"  GFLOP {r['gflops']:8.1f} ({r['gflops']/flop_base:.3f}x)" if flop_base else ""
        print(f"{r['method']:10s} {r['params_m']:9.1f} {r['step_s']:8.3f} {r['step_s']/base:10.2f} {r['images']:7d} {r['image_s']/base_img:9.2f} {r['peak_mib']:9.0f} {r['collate_s']:10.3f}{fl}")
    cga = next((r for r in rows if r["method"] == "cga"), None)
    if cga is not None:
        print(f"CGA / ConVIRT = {cga['step_s']/base:.2f} step time" + (f", {cga['gflops']/flop_base:.3f} FLOPs" if flop_base else "") + " (target <= 1.3)")
    multiview = next((r for r in rows if r["method"] == "fl"), None)
    if multiview is not None:
        r, b = multiview, rows[0]
        flops = f", {(r['gflops']/r['images'])/(flop_base/b['images']):.3f} FLOPs per image" if flop_base else ""
        print(f"F-L / ConVIRT = {r['image_s']/base_img:.2f} step time per image{flops} ({r['images']} vs {b['images']} images per step, "
              f"lateral fraction {args.lateral_fraction}, MLM share {args.mlm_share}; target <= 1.3)")
    return 0

if __name__ == "__main__":
    sys.exit(main())
