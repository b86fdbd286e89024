"""Report parser speed: all IU X-ray reports (torchxrayvision's NLMCXR_reports.tgz) on one core.

    python bench/bench_parser.py                 # 5 repeats, pinned to one core
    python bench/bench_parser.py --repeats 9 --also-labels

Prints the median reports per CPU-second (= reports/s on one dedicated core, robust to other jobs sharing the
machine; the wall-clock pass times are printed too) of `parse_report` (the full graph: sections, sentences, entities, existence, sides,
relations) and of the keyword + NegEx baseline of `cxr_graphalign.evaluate.report_parser`, both measured in the same
run on the same reports, and their ratio (parser / baseline). Target: >= 2,000 reports/s per core for the full graph.
Speed is not accuracy: all reports (even and odd ids) are timed, none is scored.
"""
import argparse, os, statistics, sys, time

from cxr_graphalign.data.iu import read_iu_reports
from cxr_graphalign.graph.parse import parse_report
from cxr_graphalign.evaluate.report_parser import KeywordNegexBaseline


def report_texts():
    "Findings + impression of every IU report, as the readers join them."
    out = []
    for r in read_iu_reports():
        s = r["sections"]
        out.append("\n".join(f"{k.upper()}: {s[k]}" for k in ("findings", "impression") if s.get(k)))
    return out


def rate(fn, texts, repeats):
    "Median reports per CPU-second of `fn` over `repeats` passes through `texts`, and the wall-clock pass times."
    for t in texts[:200]: fn(t)
    cpu, wall = [], []
    for _ in range(repeats):
        c0, w0 = time.process_time(), time.perf_counter()
        for t in texts: fn(t)
        cpu.append(time.process_time() - c0); wall.append(time.perf_counter() - w0)
    return len(texts) / statistics.median(cpu), wall


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5, help="timed passes over all reports (median reported)")
    p.add_argument("--core", type=int, default=None, help="pin to this CPU core (default: the first allowed one)")
    p.add_argument("--also-labels", action="store_true", help="also time parse_report(text).labels()")
    args = p.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        core = args.core if args.core is not None else min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {core})
        print(f"pinned to core {core}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    texts = report_texts()
    print(f"{len(texts)} IU reports, {sum(map(len, texts)) / len(texts):.0f} characters on average")
    baseline = KeywordNegexBaseline()
    rows = [("keyword + NegEx baseline", *rate(baseline, texts, args.repeats)),
            ("parse_report (full graph)", *rate(parse_report, texts, args.repeats))]
    if args.also_labels: rows.append(("parse_report + labels()", *rate(lambda t: parse_report(t).labels(), texts, args.repeats)))
    base = rows[0][1]
    print(f"{'labeller':28s} {'reports/s':>10s} {'ratio':>7s}  wall-clock pass times (s)")
    for name, r, times in rows:
        print(f"{name:28s} {r:10.0f} {r / base:7.2f}  " + " ".join(f"{t:.2f}" for t in times))
    full = rows[1][1]
    print(f"full graph: {full:.0f} reports/s/core ({'meets' if full >= 2000 else 'below'} the 2,000 target), "
          f"{full / base:.2f}x the keyword baseline")
    return 0


if __name__ == "__main__":
    sys.exit(main())
