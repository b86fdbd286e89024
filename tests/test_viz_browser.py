"""The exported viz pages in real headless Chromium: the graph canvas, the heatmaps, a selection change, no network.

Pages are written under `test-artifacts/viz/` (gitignored) together with screenshots, so a failing run can be
inspected. Every request the browser makes is recorded (and anything that is not `file:`/`data:`/`blob:` is
aborted and fails the test). Skipped, with the reason, when /usr/bin/chromium or playwright is missing
(`apt-get install -y chromium`).
"""
import re, tarfile
from pathlib import Path

import numpy as np
import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "viz"
LOCAL = ("file:", "data:", "blob:", "about:")

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not CHROMIUM.exists(), reason="headless Chromium not installed at /usr/bin/chromium (apt-get install -y chromium)")]


def iu_report(uid: int) -> str:
    "Findings + impression of an IU X-ray report (even ids only: odd ids are the blind test set)."
    import torchxrayvision
    assert uid % 2 == 0
    with tarfile.open(f"{torchxrayvision.__path__[0]}/data/NLMCXR_reports.tgz") as t:
        xml = t.extractfile(f"ecgen-radiology/{uid}.xml").read().decode()
    secs = dict(re.findall(r'<AbstractText Label="(\w+)">(.*?)</AbstractText>', xml, flags=re.S))
    return " ".join(f"{k}: {secs[k].strip()}" for k in ("FINDINGS", "IMPRESSION") if secs.get(k))


EVIL = " <script>alert('xss')</script> <img src=x onerror=alert(2)> Small left pleural effusion."


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


class Visit:
    "A page in a fresh context that records every request, console error, page error and dialog."
    def __init__(self, browser, path: Path):
        self.requests, self.blocked, self.errors, self.dialogs = [], [], [], []
        self.ctx = browser.new_context(viewport={"width": 1280, "height": 900})
        self.ctx.route("**/*", self._route)
        self.page = self.ctx.new_page()
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.page.goto(path.as_uri())

    def _route(self, route):
        url = route.request.url
        if url.startswith(LOCAL): route.continue_()
        else: self.blocked.append(url); route.abort()

    def check_offline(self):
        remote = [u for u in self.requests if not u.startswith(LOCAL)]
        assert not remote and not self.blocked, f"requests left the machine: {remote or self.blocked}"
        assert not self.dialogs, f"a script from the report ran (dialogs: {self.dialogs})"
        assert not self.errors, f"console/page errors: {self.errors}"

    def close(self): self.ctx.close()


def canvas_ink(page, selector: str) -> int:
    "Number of non-background pixels drawn on a canvas."
    return page.eval_on_selector(selector, """c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i+3] > 0 && (d[i] < 240 || d[i+1] < 240 || d[i+2] < 240)) n++; return n; }""")


def test_graph_page(browser):
    "The report graph draws on a canvas, hover shows the escaped sentence and highlights it, nothing loads."
    from cxr_graphalign.graph import parse_report
    from cxr_graphalign.viz import graph_html
    graph = parse_report(iu_report(10) + EVIL)
    path = ARTIFACTS / "graph.html"
    path.write_text(graph_html(graph, title="IU X-ray report 10"), encoding="utf-8")
    v = Visit(browser, path)
    try:
        page = v.page
        page.wait_for_selector("#cga-graph-net canvas")
        page.wait_for_function("document.getElementById('cga-graph-net').dataset.ready === '1'", timeout=20000)
        assert canvas_ink(page, "#cga-graph-net canvas") > 500, "the graph canvas is blank"
        report = page.inner_text("#cga-graph-report")
        assert "<script>alert('xss')</script>" in report and "<img src=x" in report, report   # shown as text
        page.screenshot(path=str(ARTIFACTS / "graph.png"), full_page=True)
        # hover the finding of the sentence with the injected markup: its sentence is highlighted and the
        # tooltip shows the markup as text (an HTML tooltip would run the img onerror -> a dialog -> failure)
        target = [e for e in graph.entities if e.type == "observation"][-1]
        assert "<script>" in graph.sentence_text(target.sentence), "the injected sentence should hold the last finding"
        xy = page.evaluate("""k => { const n = window.cgaNetworks['cga-graph'];
            const p = n.canvasToDOM(n.getPositions([k])[k]); const r = document.querySelector('#cga-graph-net canvas').getBoundingClientRect();
            return [r.left + p.x, r.top + p.y]; }""", target.id)
        page.mouse.move(xy[0] + 1, xy[1] + 1); page.mouse.move(*xy)
        page.wait_for_selector("#cga-graph .cga-sent.cga-on", timeout=5000)
        on = page.inner_text("#cga-graph .cga-sent.cga-on")
        assert graph.sentence_text(target.sentence).strip() in on.strip(), (on, target)
        page.wait_for_selector("div.vis-tooltip", state="visible", timeout=5000)
        tip = page.inner_text("div.vis-tooltip")
        assert target.text in tip and "<script>alert('xss')</script>" in tip and "<img src=x" in tip, tip
        page.wait_for_timeout(300)                                     # give a (wrongly) parsed onerror time to fire
        page.screenshot(path=str(ARTIFACTS / "graph_hover.png"), full_page=True)
        v.check_offline()
    finally: v.close()


def _bump_maps(labels, h=7, w=7):
    "Deterministic similarity maps: one Gaussian bump per query, at a different place each."
    yy, xx = np.mgrid[0:h, 0:w]
    centres = [((i * 3) % h, (i * 5 + 1) % w) for i in range(len(labels))]
    return np.stack([np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 3.0) * 2 - 1 for cy, cx in centres]).astype(np.float32)


def test_heatmap_and_dashboard_page(browser):
    "One demo-like page: graph, heatmap (two panels) and dashboard; a <select> change swaps the pictures."
    import pydicom, torch
    from cxr_graphalign.data.decode import load_image
    from cxr_graphalign.graph import parse_report
    from cxr_graphalign.viz import graph_fragment, heatmap_fragment, dashboard_figure, figure_fragment, save_page
    img, _ = load_image(pydicom.data.get_testdata_file("RG1_UNCR.dcm"), 224)
    image = torch.from_numpy(img).float().div(255)[None]
    graph = parse_report(iu_report(12) + EVIL)
    labels = [graph.sentence_text(i).strip() for i in range(len(graph.sentences))]
    sims = torch.from_numpy(_bump_maps(labels))
    cams = torch.nn.functional.interpolate(sims[:, None].flip(-2), size=(224, 224), mode="bilinear")[:, 0]
    rows = [{"step": s, "split": "train", "stage": "global" if s < 20 else "global+node", "loss": 4 / (1 + s / 10),
             "term/global": 3 / (1 + s / 10), "term/node": 1.5 - s / 50 * (s >= 20), "weight/global": 1.0, "weight/node": float(s >= 20)}
            for s in range(1, 41)]
    path = save_page([("Report graph and visual graph", graph_fragment(graph, height=360, image=image)),
                      ("Region–sentence heatmap and Grad-CAM", heatmap_fragment(image, {"similarity": sims, "Grad-CAM": cams}, labels)),
                      ("Training", figure_fragment(dashboard_figure(rows), div_id="dashboard"))],
                     ARTIFACTS / "demo.html", title="cxr-graphalign viz")
    doc = path.read_text(encoding="utf-8")
    assert not re.search(r'<(script|link|img|iframe)[^>]+(src|href)\s*=\s*["\']?(https?:)?//', doc, flags=re.I)
    v = Visit(browser, path)
    try:
        page = v.page
        page.wait_for_function("document.getElementById('cga-graph-net').dataset.ready === '1'", timeout=20000)
        assert canvas_ink(page, "#cga-graph-net canvas") > 500
        region = page.locator("#cga-graph .cga-region").first        # the visual graph: hovering a region box
        region.hover()                                                 # selects its nodes in the report graph
        selected = page.evaluate("window.cgaNetworks['cga-graph'].getSelectedNodes()")
        expected = [int(k) for k in region.get_attribute("data-nodes").split()]
        assert sorted(selected) == sorted(expected), (selected, expected)
        assert "cga-on" in region.get_attribute("class")
        page.wait_for_selector("#dashboard .main-svg")
        assert page.locator("#dashboard .scatterlayer .trace").count() >= 5
        hm = page.locator("#cga-heatmap")
        hm.scroll_into_view_if_needed()
        page.wait_for_function("document.querySelector('#cga-heatmap img[data-panel=\"0\"]').naturalWidth === 224")
        test_eq_caption = page.inner_text("#cga-heatmap .cga-hm-caption")
        assert test_eq_caption == labels[0]
        before = [page.get_attribute(f'#cga-heatmap img[data-panel="{k}"]', "src") for k in (0, 1)]
        shot0 = hm.screenshot(path=str(ARTIFACTS / "heatmap_0.png"))
        k = len(labels) - 1                                  # the sentence with the injected markup
        page.select_option("#cga-heatmap select", str(k))
        page.wait_for_function(f"document.getElementById('cga-heatmap').dataset.selected === '{k}'")
        after = [page.get_attribute(f'#cga-heatmap img[data-panel="{k}"]', "src") for k in (0, 1)]
        assert all(a != b and a.startswith("data:image/jpeg;base64,") for a, b in zip(after, before))
        assert page.inner_text("#cga-heatmap .cga-hm-caption") == labels[k]
        shot1 = hm.screenshot(path=str(ARTIFACTS / f"heatmap_{k}.png"))
        assert shot0 != shot1, "the picture did not change after the selection"
        page.screenshot(path=str(ARTIFACTS / "demo.png"), full_page=True)
        v.check_offline()
    finally: v.close()


def test_network_guard_works(browser, tmp_path):
    "The guard itself can fail: a page that fetches a remote URL is caught."
    path = tmp_path / "leak.html"
    path.write_text('<!DOCTYPE html><html><body><img src="https://example.com/x.png"></body></html>', encoding="utf-8")
    v = Visit(browser, path)
    try:
        v.page.wait_for_timeout(300)
        with pytest.raises(AssertionError, match="left the machine"): v.check_offline()
    finally: v.close()
