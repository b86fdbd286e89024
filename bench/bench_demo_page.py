"""Size and first paint of the demo page (`runs/demo/index.html`): targets <= 3 MB and first paint < 1 s.

    python bench/bench_demo_page.py runs/demo/index.html           # a page you already have
    python bench/bench_demo_page.py --quick                         # run `cxr-graphalign demo --quick` first (~1 min)
    python bench/bench_demo_page.py runs/demo/index.html --rounds 5

Opens the page from disk in headless Chromium (Debian's /usr/bin/chromium, through playwright) `--rounds` times,
each in a fresh browser context (no cache), and reads the browser's own Paint Timing entries: `first-paint` and
`first-contentful-paint` (ms since navigation start), plus `domContentLoaded` and `load`. It prints the file size,
what it is made of (inline scripts, data-URI images and how many of those are repeats, everything else), the
median and worst of each timing over rounds, and whether both targets hold; exit status 1 when one does not.
The baseline to compare against is the same page before the lighter rendering: 12.5 MB (4.8 MB of plotly.js,
192 PNG heatmaps of which 1.8 MB were exact duplicates).
"""
import argparse, re, statistics, subprocess, sys, tempfile
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
MAX_BYTES, MAX_PAINT_MS = 3_000_000, 1000

def composition(doc: str) -> dict:
    "Bytes of inline scripts, data-URI images (total and repeated) and the rest of an HTML document."
    scripts = sum(len(m) for m in re.findall(r"<script[^>]*>.*?</script>", doc, flags=re.S))
    uris = re.findall(r"data:image/[a-z]+;base64,[A-Za-z0-9+/=]+", doc)
    images, unique = sum(map(len, uris)), sum(map(len, set(uris)))
    return {"scripts (incl. image data inside them)": scripts, "data-URI images": images, "repeated images": images - unique,
            "n images": len(uris), "n distinct images": len(set(uris))}

def paint_timings(path: Path, rounds: int) -> list[dict]:
    "Paint and load timings (ms) of `rounds` cold loads of the page."
    from playwright.sync_api import sync_playwright
    out = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for _ in range(rounds):
            ctx = browser.new_context(viewport={"width": 1300, "height": 900})
            page = ctx.new_page()
            page.goto(path.resolve().as_uri(), wait_until="load")
            page.wait_for_function("performance.getEntriesByType('paint').length >= 2", timeout=10000)
            t = page.evaluate("""() => {
                const nav = performance.getEntriesByType('navigation')[0], r = {};
                performance.getEntriesByType('paint').forEach(e => r[e.name] = e.startTime);
                r.domContentLoaded = nav.domContentLoadedEventEnd; r.load = nav.loadEventEnd; return r; }""")
            out.append(t); ctx.close()
        browser.close()
    return out

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("page", nargs="?", help="the demo page (index.html); omit with --quick")
    ap.add_argument("--quick", action="store_true", help="generate the page with `cxr-graphalign demo --quick` first")
    ap.add_argument("--rounds", type=int, default=5, help="cold page loads to time (default 5)")
    a = ap.parse_args(argv)
    if a.quick:
        out = Path(tempfile.mkdtemp())/"demo"
        subprocess.run([str(Path(sys.executable).with_name("cxr-graphalign")), "demo", "--quick", "--out", str(out)], check=True,
                       stdout=subprocess.DEVNULL)
        path = out/"index.html"
    elif a.page and Path(a.page).is_file(): path = Path(a.page)
    else:
        print(f"bench_demo_page: no such page {a.page!r}; pass the demo's index.html or use --quick", file=sys.stderr); return 2
    doc = path.read_text(encoding="utf-8")
    size = path.stat().st_size
    print(f"page: {path}  size: {size / 1e6:.2f} MB (target <= {MAX_BYTES / 1e6:.0f} MB)")
    for k, v in composition(doc).items(): print(f"  {k:40s} {v / 1e6:.2f} MB" if not k.startswith("n ") else f"  {k:40s} {v}")
    runs = paint_timings(path, a.rounds)
    for key in ("first-paint", "first-contentful-paint", "domContentLoaded", "load"):
        vals = [r[key] for r in runs if key in r]
        print(f"  {key:24s} median {statistics.median(vals):7.0f} ms   worst {max(vals):7.0f} ms   ({len(vals)} cold loads)")
    worst_paint = max(r["first-paint"] for r in runs)
    ok = size <= MAX_BYTES and worst_paint < MAX_PAINT_MS
    print(f"targets {'met' if ok else 'NOT met'}: size {size / 1e6:.2f} MB <= 3 MB, worst first paint {worst_paint:.0f} ms < 1000 ms")
    return 0 if ok else 1

if __name__ == "__main__": sys.exit(main())
