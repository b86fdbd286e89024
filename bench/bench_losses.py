"""Vectorised GLoRIA / MGCA local terms against their loop-based references: time and peak memory.

    python bench/bench_losses.py                      # CPU, small sizes (about a minute on 1 thread)
    python bench/bench_losses.py --device cuda --batch 32 --patches 361 --words 64 --dim 768

Each implementation runs forward + backward on the same random inputs; the script prints the median time of
`--repeats` runs, the ratio reference / vectorised (above 1: the vectorised term is faster), and the peak
memory of one forward + backward (CUDA: `max_memory_allocated`; CPU: the bytes autograd saves for the backward,
which dominate a loss's footprint). The loop references live in `nbs/03a_losses.local.ipynb` (they are not exported); this script
loads them from there, so the notebook's equality tests and this benchmark check the same code.
"""
import argparse, json, statistics, time
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from cxr_graphalign.losses.local import gloria_local_loss, mgca_token_loss

NB = Path(__file__).resolve().parents[1]/"nbs"/"03a_losses.local.ipynb"

def notebook_function(name: str):
    "A function defined in a (non-exported) cell of the local-losses notebook."
    cells = json.loads(NB.read_text())["cells"]
    src = next(("".join(c["source"]) for c in cells if c["cell_type"] == "code" and f"def {name}(" in "".join(c["source"])), None)
    if src is None: raise LookupError(f"{NB.name} has no cell defining {name}(); was the reference renamed?")
    ns = {"torch": torch, "nn": nn, "F": F}
    exec(compile(src.split("\n\n# %%")[0], str(NB), "exec"), ns)
    return ns[name]

def make_inputs(args, seed=0):
    g = torch.Generator().manual_seed(seed)
    B, P, T, E = args.batch, args.patches, args.words, args.dim
    regions = torch.randn(B, P, E, generator=g)
    lens = torch.randint(T // 2, T + 1, (B,), generator=g)
    mask = torch.arange(T)[None] < lens[:, None]
    words = torch.randn(B, T, E, generator=g) * mask[..., None]
    patch_w, word_w = torch.rand(B, P, generator=g), torch.rand(B, T, generator=g) * mask
    dev = torch.device(args.device)
    return [t.to(dev) for t in (regions, words, mask, lens, patch_w, word_w)]

def implementations(args):
    "name -> (baseline name, function(regions, words, mask, lens, patch_w, word_w) -> loss)."
    side = int(round(args.patches ** 0.5))
    if side * side != args.patches: raise SystemExit(f"--patches must be a square (a feature grid), got {args.patches}")
    gloria_ref, mgca_ref = notebook_function("gloria_local_loss_reference"), notebook_function("mgca_token_loss_reference")
    B, E = args.batch, args.dim
    return {
        "gloria_loop": (None, lambda r, w, m, l, pw, ww: gloria_ref(r.transpose(1, 2).reshape(B, E, side, side), w.transpose(1, 2), l.tolist())),
        "gloria_vectorised": ("gloria_loop", lambda r, w, m, l, pw, ww: gloria_local_loss(r, w, m)),
        "mgca_loop": (None, lambda r, w, m, l, pw, ww: mgca_ref(r, w, m, pw, ww)),
        "mgca_vectorised": ("mgca_loop", lambda r, w, m, l, pw, ww: mgca_token_loss(r, w, m, pw, ww)),
    }

def step(fn, inputs):
    r, w = inputs[0].detach().requires_grad_(), inputs[1].detach().requires_grad_()
    loss = fn(r, w, *inputs[2:])
    loss.backward()
    return loss.item()

def sync(args):
    if args.device.startswith("cuda"): torch.cuda.synchronize()

def time_it(fn, inputs, args):
    for _ in range(args.warmup): step(fn, inputs)
    times = []
    for _ in range(args.repeats):
        sync(args); t0 = time.perf_counter(); step(fn, inputs); sync(args)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)

def peak_memory_mib(name, args):
    "CUDA: peak allocated memory of one forward + backward; CPU: memory autograd keeps for the backward. MiB."
    inputs = make_inputs(args); fn = implementations(args)[name][1]
    if args.device.startswith("cuda"):
        torch.cuda.synchronize(); torch.cuda.empty_cache(); torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        step(fn, inputs); torch.cuda.synchronize()
        return (torch.cuda.max_memory_allocated() - base) / 2**20
    saved = {}
    def pack(t):
        st = t.untyped_storage(); saved[st.data_ptr()] = st.nbytes(); return t
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t): step(fn, inputs)
    return sum(saved.values()) / 2**20

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--patches", type=int, default=49, help="P = h*w of the feature grid (49: ResNet-50 at 224 px)")
    p.add_argument("--words", type=int, default=48, help="T, padded words per report")
    p.add_argument("--dim", type=int, default=128, help="E, the local embedding size")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--no_memory", action="store_true", help="skip the peak-memory measurement")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    impls, inputs = implementations(args), make_inputs(args)
    print(f"device={args.device} threads={args.threads} B={args.batch} P={args.patches} T={args.words} E={args.dim} "
          f"repeats={args.repeats} (median of forward+backward)")
    results = {}
    for name, (baseline, fn) in impls.items():
        results[name] = time_it(fn, inputs, args)
        mem = "" if args.no_memory else f"  peak {peak_memory_mib(name, args):8.1f} MiB"
        ratio = f"  {results[baseline] / results[name]:6.2f}x faster than {baseline}" if baseline else ""
        print(f"{name:>20}: {1000 * results[name]:9.2f} ms{mem}{ratio}")
    for a, b in (("gloria_loop", "gloria_vectorised"), ("mgca_loop", "mgca_vectorised")):
        la, lb = step(impls[a][1], inputs), step(impls[b][1], inputs)
        assert abs(la - lb) <= 1e-4 * max(1., abs(la)), f"{a} and {b} disagree: {la} vs {lb}"

if __name__ == "__main__": main()
