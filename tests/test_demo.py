"""The main job as a new user runs it: `cxr-graphalign demo --quick` end to end, then its page in headless
Chromium (results table, report-graph canvas, heatmap images, no network request)."""
import json, re, subprocess, sys
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[1]/"test-artifacts"

@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")/"run"
    res = subprocess.run([str(Path(sys.executable).with_name("cxr-graphalign")), "demo", "--quick", "--out", str(out)],
                         capture_output=True, text=True, timeout=1200)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-6000:]
    return out, res

def test_demo_quick_end_to_end(demo_run):
    out, res = demo_run
    last = res.stdout.strip().splitlines()[-1]
    assert last == f"demo report: {(out/'index.html').resolve()}", last
    results = json.loads((out/"results.json").read_text())
    rows = results["rows"]   # the demo is `compare` at a small budget: one row per method (and the chance row) and metric
    assert {r["method"] for r in rows} == {"convirt-tiny", "cga-tiny", "chance"}
    metrics = {r["metric"] for r in rows}
    assert {"probe AUC", "i2t R@1", "pointing (node)", "pointing (sentence)"} <= metrics, metrics
    for r in rows:
        if r["method"] != "chance": assert r["ci_low"] <= r["mean"] <= r["ci_high"] or r["mean"] != r["mean"], r
        if "AUC" in r["metric"] or "R@" in r["metric"]: assert 0 <= r["mean"] <= 1, r
    assert {t["method"] for t in results["paired"]} == {"cga-tiny"} and all(t["baseline"] == "convirt-tiny" for t in results["paired"])
    for m in ("convirt-tiny", "cga-tiny"):
        seeds = sorted(p.name for p in (out/m).glob("seed*"))
        assert len(seeds) == results["config"]["seeds"] and all((out/m/s/"metrics.csv").exists() for s in seeds), seeds
    assert results["parser"]["macro_f1"] > 0.85
    assert "demo" in res.stderr  # the progress bar

@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed at /usr/bin/chromium")
def test_demo_page_in_chromium(demo_run):
    from playwright.sync_api import sync_playwright
    out, _ = demo_run
    requests = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        page.on("request", lambda r: requests.append(r.url))
        page.goto((out/"index.html").as_uri())
        page.wait_for_timeout(1500)
        table = page.locator("table.results").first
        assert "cga-tiny" in table.inner_text() and "convirt-tiny" in table.inner_text()
        assert page.locator("#graph-0 canvas").count() >= 1, "the report graph canvas did not draw"
        imgs = page.locator("#heatmap-0 img")
        assert imgs.count() >= 2 and imgs.first.evaluate("i => i.complete && i.naturalWidth > 0")
        assert page.locator("#gradcam-0 img").count() == 1, "the Grad-CAM section repeats the similarity panel"
        assert page.locator("#heatmap-0 .cga-scale").count() == imgs.count(), "a heatmap panel without its colour scale"
        assert page.locator("svg#curves-0 path").count() > 5, "the training curves did not draw"
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS/"demo_page.png"), full_page=True)
        browser.close()
    external = [u for u in requests if not u.startswith(("file:", "data:", "blob:", "about:"))]
    assert not external, f"the demo page requested the network: {external[:5]}"


def test_demo_quick_page_is_light(demo_run):
    "The page stays under 3 MB: static SVG curves instead of plotly.js, every heatmap picture stored once, as JPEG."
    out, _ = demo_run
    path = out/"index.html"
    assert path.stat().st_size <= 3_000_000, f"demo page is {path.stat().st_size / 1e6:.1f} MB"
    doc = path.read_text(encoding="utf-8")
    uris = re.findall(r"data:image/[a-z]+;base64,[A-Za-z0-9+/=]+", re.sub(r"<style>.*?</style>", "", doc, flags=re.S))  # vis-network's CSS icons aside
    assert uris and len(uris) == len(set(uris)), f"{len(uris) - len(set(uris))} pictures are stored more than once"
    assert all(u.startswith("data:image/jpeg") for u in uris), "heatmaps are stored as JPEG"
    assert "Plotly.newPlot" not in doc and "White outline: the ground-truth mask" in doc
