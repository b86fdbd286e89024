"""Phantom rendering speed on one core: images/s at 224 px (target >= 50), against a trivial baseline.

    python bench/bench_phantom.py                 # 224 px, 64 real IU reports (even ids), 5 rounds
    python bench/bench_phantom.py --size 512 --reports 32

Reports are parsed before timing (parsing is the graph module's cost, not the renderer's). Each round renders
every report once with a new seed; the script prints the median time per image over rounds for
  baseline   allocate a float image, add Gaussian noise, convert to uint8 (the least any renderer does)
  normal     an empty graph: anatomy + patient variation + masks only
  phantom    the real reports' graphs: anatomy + their findings
  two-view   the same phantoms and their lateral films (`cxr_graphalign.data.lateral.render_lateral`)
and the ratio phantom / baseline (how many baseline images one phantom costs), which stays comparable on a
busy machine, beside the absolute images/s. "One core" figures use the process's CPU time (a single
thread, so CPU seconds = seconds on one core even when other jobs share the machine); wall-clock figures
are printed too and match them on an idle machine.
"""
import argparse, statistics, time

import numpy as np
import torch

from cxr_graphalign.data.lateral import render_lateral
from cxr_graphalign.data.phantom import PhantomDataset, render_phantom
from cxr_graphalign.graph import parse_report


def baseline(size, seed):
    rng = np.random.default_rng(seed)
    im = np.full((size, size), 0.5, np.float32) + 0.1 * rng.standard_normal((size, size), dtype=np.float32)
    return np.clip(im * 255, 0, 255).astype(np.uint8)


def one_pass(fn, items, offset):
    "(CPU seconds, wall seconds) per image of one pass over `items`."
    c0, t0 = time.process_time(), time.perf_counter()
    for i, it in enumerate(items): fn(it, offset + i)
    return (time.process_time() - c0) / len(items), (time.perf_counter() - t0) / len(items)


def measure(fns, items, rounds):
    "Interleaved rounds (so a busy machine slows every contender alike): name -> list of (cpu, wall) per round."
    out = {k: [] for k in fns}
    for r in range(rounds + 1):
        for k, fn in fns.items():
            t = one_pass(fn, items, r * len(items))
            if r: out[k].append(t)  # round 0 warms caches up
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--reports", type=int, default=64, help="number of even-id IU reports to render")
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args()
    torch.set_num_threads(1)
    ds = PhantomDataset("iu", size=args.size)
    graphs = [ds.graph(i) for i in range(min(args.reports, len(ds)))]
    empty = parse_report("")
    n_findings = np.mean([len(render_phantom(g, args.size, 0).findings) for g in graphs])
    res = measure({"baseline": lambda _, s: baseline(args.size, s), "normal": lambda _, s: render_phantom(empty, args.size, s),
                   "phantom": lambda g, s: render_phantom(g, args.size, s),
                   "two-view": lambda g, s: render_lateral(render_phantom(g, args.size, s))}, graphs, args.rounds)
    med = {k: (statistics.median(c for c, _ in v), statistics.median(w for _, w in v)) for k, v in res.items()}
    ratio = {k: statistics.median(c / b[0] for (c, _), b in zip(v, res["baseline"])) for k, v in res.items()}
    print(f"size {args.size} px, 1 thread, {len(graphs)} IU reports (even ids), {n_findings:.1f} drawn findings/image, "
          f"median of {args.rounds} interleaved rounds")
    print(f"{'':10s} {'CPU ms/image':>12s} {'images/s/core':>13s} {'x baseline':>10s} {'wall ms/image':>13s}")
    for name in res:
        c, w = med[name]
        print(f"{name:10s} {c * 1e3:12.2f} {1 / c:13.1f} {ratio[name]:10.1f} {w * 1e3:13.2f}")
    t_ph = med["phantom"]
    ips = 1 / t_ph[0]
    print(f"target >= 50 images/s on one core (at 224 px): {'met' if ips >= 50 else 'NOT met'} ({ips:.1f} images/s at {args.size} px)")
    lat = statistics.median(t[0] / f[0] - 1 for t, f in zip(res["two-view"], res["phantom"]))
    print(f"a lateral film costs {lat:.2f} frontal phantoms; target <= 1.5: {'met' if lat <= 1.5 else 'NOT met'}")


if __name__ == "__main__":
    main()
