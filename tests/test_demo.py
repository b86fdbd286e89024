"""The main job as a new user runs it: `cxr-graphalign demo --quick` end to end, then its page in headless
Chromium (results table, report-graph canvas, heatmap images, no network request)."""
import json, subprocess, sys
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
    assert set(results["results"]) == {"convirt-tiny", "cga-tiny"}
    for m, r in results["results"].items():
        assert 0 <= r["probe"]["auc"] <= 1 or r["probe"]["auc"] != r["probe"]["auc"]
        assert set(r["retrieval"]) >= {"i2t_R@1", "i2t_R@5", "t2i_R@1"}
        assert r["grounding"]["node"]["n"] > 0
        assert (out/m/"metrics.csv").exists() and (out/m/"model"/"config.json").exists()
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
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS/"demo_page.png"), full_page=True)
        browser.close()
    external = [u for u in requests if not u.startswith(("file:", "data:", "blob:", "about:"))]
    assert not external, f"the demo page requested the network: {external[:5]}"
