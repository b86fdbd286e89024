"""The documentation path without Quarto: README.md is generated from nbs/index.ipynb, every notebook keeps
imports in their own cells (nbdev's docs step re-executes import cells), the rendered pages open in headless
Chromium with their title, outputs, figures and the sidebar, making no network request, and every notebook
installs itself in Colab (from PyPI, or from the repository while no release exists)."""
import json, os, re, stat, subprocess, sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
IMPORT = re.compile(r"^(import\s|from\s+\S+\s+import\s)", re.M)

def _quickstart_commands():
    "The two commands of the README's quick start, read from the README itself."
    md = (ROOT/"README.md").read_text()
    block = md.split("## Quick start", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    return [l.strip() for l in block.strip().splitlines()]

def test_readme_is_generated_from_index():
    res = subprocess.run([sys.executable, str(ROOT/"tools"/"build_docs.py"), "--check"], capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0, res.stdout + res.stderr[-3000:]

def test_readme_has_two_quickstart_commands_and_ci_runs_the_test_one():
    cmds = _quickstart_commands()
    assert len(cmds) == 2, cmds
    assert "cxr-graphalign demo" in cmds[0] and "pytest" in cmds[1]
    assert cmds[1] in (ROOT/".ci"/"run").read_text(), "CI must call the README's test command"

def _guarded_import(node) -> bool:
    "`try: <imports> except ImportError: <assignments>`: an optional dev tool (nbdev's show_doc) with a fallback."
    import ast
    return (isinstance(node, ast.Try) and all(isinstance(n, (ast.Import, ast.ImportFrom)) for n in node.body)
            and all(isinstance(n, ast.Assign) for h in node.handlers for n in h.body))

@pytest.mark.parametrize("nb", sorted((ROOT/"nbs").glob("*.ipynb")), ids=lambda p: p.stem)
def test_imports_live_in_their_own_cells(nb):
    "A code cell holds only imports or no import at all: nbdev's docs step executes every cell whose AST has an import."
    import ast
    for i, c in enumerate(json.loads(nb.read_text())["cells"]):
        src = "".join(c["source"])
        if c["cell_type"] != "code" or re.search(r"^#\|\s*export", src, re.M): continue
        try: tree = ast.parse("\n".join(l for l in src.splitlines() if not l.startswith(("%", "!"))))
        except SyntaxError: continue
        if not any(isinstance(n, (ast.Import, ast.ImportFrom)) for n in ast.walk(tree)): continue
        assert all(isinstance(n, (ast.Import, ast.ImportFrom)) or _guarded_import(n) for n in tree.body), \
            f"{nb.name} cell {i} mixes imports with code: move the imports to their own cell\n{src[:300]}"

def _launch(p):
    return p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)

@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed at /usr/bin/chromium")
def test_rendered_index_in_chromium(tmp_path):
    "The index page as committed (no execution: seconds): title, quick start, the overview figure, the sidebar."
    from playwright.sync_api import sync_playwright
    out = tmp_path/"_docs"
    res = subprocess.run([sys.executable, str(ROOT/"tools"/"build_docs.py"), "--out", str(out), "--pages", "index.ipynb", "--no-execute"],
                         capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0, res.stderr[-3000:]
    requests = []
    with sync_playwright() as p:
        browser = _launch(p)
        page = browser.new_page()
        page.on("request", lambda r: requests.append(r.url))
        page.goto((out/"index.html").as_uri())
        assert page.locator(".cga-main h1").first.inner_text().strip().startswith("cxr-graphalign")
        text = page.locator("body").inner_text()
        for cmd in _quickstart_commands(): assert cmd in text, cmd
        assert page.locator("img[src*='overview.svg']").count() == 1
        assert page.locator(".cga-sidebar a.active").inner_text().strip() == "cxr-graphalign"
        browser.close()
    external = [u for u in requests if not u.startswith(("file:", "data:", "about:"))]
    assert not external, f"the docs page requested the network: {external[:5]}"

def test_pages_option_rejects_an_unknown_notebook(tmp_path):
    res = subprocess.run([sys.executable, str(ROOT/"tools"/"build_docs.py"), "--out", str(tmp_path), "--pages", "99_nothing.ipynb", "--no-execute"],
                         capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 1 and "matches no notebook" in res.stderr and "Traceback" not in res.stderr, res.stderr[-2000:]

def test_executed_notebooks_are_written_for_quarto(tmp_path):
    "`--executed-into DIR` writes each executed notebook with its outputs: the docs workflow renders those with Quarto, which executes nothing."
    res = subprocess.run([sys.executable, str(ROOT/"tools"/"build_docs.py"), "--pages", "01b_graph.parse.ipynb", "--no-readme",
                          "--out", str(tmp_path/"_docs"), "--executed-into", str(tmp_path/"nbs")], capture_output=True, text=True, cwd=ROOT, timeout=1800)
    assert res.returncode == 0, res.stderr[-3000:]
    nb = json.loads((tmp_path/"nbs"/"01b_graph.parse.ipynb").read_text())
    outputs = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]
    assert len(outputs) >= 5, len(outputs)
    assert json.loads((ROOT/"nbs"/"01b_graph.parse.ipynb").read_text()) != nb, "the committed notebook was written over"

# pages whose outputs are figures: a picture (img), a canvas (vis-network, in an iframe) or an SVG chart (plotly, matplotlib)
FIGURE_PAGES = {"viz.graph": "graph viewer", "viz.heatmap": "region-sentence heatmap", "viz.gradcam": "Grad-CAM",
                "viz.dashboard": "training dashboard"}
SHOTS = {"index": "docs_index.png", "graph.parse": "docs_parser.png", "losses.contrastive": "docs_losses.png",
         "train.loop": "docs_training.png", "viz.heatmap": "docs_viz_heatmap.png", "viz.graph": "docs_viz_graph.png"}
FIGURES = ".jp-OutputArea-output img, .jp-OutputArea-output canvas, .jp-OutputArea-output svg"

def _figures(page) -> int:
    "Pictures, canvases and SVG charts in the page's outputs, including inside the outputs' sandboxed iframes."
    return page.locator(FIGURES).count() + sum(f.locator("img, canvas, svg").count() for f in page.frames[1:])

@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed at /usr/bin/chromium")
def test_every_page_with_outputs_in_chromium(tmp_path):
    "Every notebook executed (cached) and rendered: each page has its title, outputs and the sidebar; figure pages show a figure."
    from playwright.sync_api import sync_playwright
    out = tmp_path/"_docs"
    res = subprocess.run([sys.executable, str(ROOT/"tools"/"build_docs.py"), "--out", str(out), "--workers", "2", "--no-readme"],
                         capture_output=True, text=True, cwd=ROOT, timeout=5400)
    assert res.returncode == 0, (res.stdout + res.stderr)[-6000:]
    notebooks = sorted((ROOT/"nbs").glob("*.ipynb"))
    sys.path.insert(0, str(ROOT/"tools"))
    from build_docs import page_name, notebook_title
    pages = {page_name(nb): notebook_title(nb) for nb in notebooks}
    assert {p.stem for p in out.glob("*.html")} == set(pages)
    assert set(SHOTS) <= set(pages) and set(FIGURE_PAGES) <= set(pages), f"screenshots or figure checks name no page: {(set(SHOTS) | set(FIGURE_PAGES)) - set(pages)}"
    for f in out.glob("*.html"):
        for m in re.findall(r"data:image/[a-z+]+;base64,([A-Za-z0-9+/=]+)", f.read_text(encoding="utf-8")):
            assert len(m) * 3 // 4 <= 110_000, f"{f.name}: a {len(m) * 3 // 4000} kB inline image"
    shots = ROOT/"test-artifacts"; shots.mkdir(exist_ok=True)
    requests, problems = [], []
    with sync_playwright() as p:
        browser = _launch(p)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("request", lambda r: requests.append(r.url))
        for name, title in pages.items():
            page.goto((out/f"{name}.html").as_uri())
            page.wait_for_timeout(300)
            h1 = page.locator(".cga-main h1").first.inner_text().strip()
            if h1 != title: problems.append(f"{name}: title {h1!r}, expected {title!r}")
            if page.locator(".jp-CodeCell:not(.celltag_remove_input) .jp-OutputArea-output").count() < 1:   # show_doc's own outputs aside
                problems.append(f"{name}: no output of an example")
            if page.locator(".cga-sidebar a").count() < len(pages): problems.append(f"{name}: the sidebar lacks pages")
            if page.locator(".jp-InputPrompt, .jp-OutputPrompt").filter(has_text=re.compile(r"\S")).count(): problems.append(f"{name}: In/Out prompts shown")
            if page.locator(".jp-InputArea").filter(has_text=re.compile(r"^\s*show_doc\(|#\|\s*(echo: false|hide)")).count():
                problems.append(f"{name}: a hidden cell's source is shown")
            if name in FIGURE_PAGES:
                page.wait_for_timeout(1500)
                if _figures(page) < 1: problems.append(f"{name}: the {FIGURE_PAGES[name]} page shows no figure")
            if name in SHOTS: page.screenshot(path=str(shots/SHOTS[name]))
        browser.close()
    assert not problems, "\n".join(problems)
    external = [u for u in requests if not u.startswith(("file:", "data:", "about:", "blob:"))]
    assert not external, f"the docs pages requested the network: {external[:5]}"

@pytest.mark.parametrize("nb", sorted((ROOT/"nbs").glob("*.ipynb")), ids=lambda p: p.stem)
def test_notebook_opens_in_colab(nb):
    "Each notebook links to itself in Colab near its top and installs the package there in a hidden cell."
    cells = json.loads(nb.read_text())["cells"][:8]
    text = "\n".join("".join(c["source"]) for c in cells)
    assert f"colab.research.google.com/github/cxr-graphalign/cxr-graphalign/blob/main/nbs/{nb.name}" in text, f"{nb.name}: no Colab badge linking to itself"
    assert '"google.colab" in __import__("sys").modules' in text, f"{nb.name}: no hidden Colab install cell"

def test_sidebar_lists_every_notebook():
    "The hand-grouped Quarto sidebar (custom_sidebar = true) names every notebook, so none is missing from the site."
    listed = set(re.findall(r"([\w.]+\.ipynb)", (ROOT/"nbs"/"sidebar.yml").read_text()))
    missing = {p.name for p in (ROOT/"nbs").glob("*.ipynb")} - listed
    assert not missing, f"add these notebooks to nbs/sidebar.yml: {sorted(missing)}"

def _colab_cell(nb: Path) -> str:
    "The source of a notebook's hidden Colab install cell."
    for c in json.loads(nb.read_text())["cells"][:8]:
        src = "".join(c["source"])
        if '"google.colab" in __import__("sys").modules' in src: return src
    raise AssertionError(f"{nb.name}: no Colab install cell")

def test_colab_cell_is_the_same_in_every_notebook():
    cells = {_colab_cell(nb) for nb in (ROOT/"nbs").glob("*.ipynb")}
    assert len(cells) == 1, cells

@pytest.mark.parametrize("released", [True, False], ids=["on-pypi", "no-release-yet"])
def test_colab_cell_installs_from_pypi_or_the_repository(tmp_path, released):
    "The cell run as Colab runs it (with a stand-in `pip` on PATH that logs its arguments): PyPI first, the repository when PyPI has no release."
    log, bin_ = tmp_path/"pip.log", tmp_path/"bin"
    bin_.mkdir()
    fake = bin_/"pip"
    fake.write_text(f"""#!/bin/sh\necho "$*" >> {log}\ncase "$*" in *git+https://*) exit 0;; esac\n"""
                    + ("exit 0\n" if released else "echo 'ERROR: No matching distribution found for cxr-graphalign' >&2; exit 1\n"))
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    cell = _colab_cell(ROOT/"nbs"/"index.ipynb")
    env = {**os.environ, "PATH": f"{bin_}:{os.environ['PATH']}"}
    outside = subprocess.run([sys.executable, "-c", cell], env=env, capture_output=True, text=True)
    assert outside.returncode == 0 and not log.exists(), "the cell must do nothing outside Colab"
    colab = "import sys, types; sys.modules['google.colab'] = types.ModuleType('google.colab')\n" + cell
    res = subprocess.run([sys.executable, "-c", colab], env=env, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:]
    calls = log.read_text().splitlines()
    assert calls[0] == "install -q cxr-graphalign"
    if released: assert len(calls) == 1, calls
    else: assert len(calls) == 2 and calls[1] == "install -q cxr-graphalign @ git+https://github.com/cxr-graphalign/cxr-graphalign", calls

def test_page_cells_hide_what_a_reader_should_not_see_and_keep_pages_light():
    "Directives applied (hide, echo: false), empty outputs and the inlined plotly.js bundle dropped, big PNGs re-encoded."
    import base64, io
    import numpy as np
    from PIL import Image
    sys.path.insert(0, str(ROOT/"tools"))
    from build_docs import page_cells, MAX_IMAGE_BYTES
    buf = io.BytesIO(); Image.fromarray(np.random.default_rng(0).integers(0, 255, (400, 400, 3), dtype=np.uint8)).save(buf, "PNG")
    big_png = base64.b64encode(buf.getvalue()).decode()
    assert len(big_png) > MAX_IMAGE_BYTES
    cell = lambda src, outs=(): {"cell_type": "code", "source": src, "metadata": {"execution": {"total": 0.1}}, "outputs": list(outs), "execution_count": 1}
    nb = {"cells": [
        cell("#| hide\nsecret = 1", [{"output_type": "stream", "name": "stdout", "text": "hidden"}]),
        cell("#| echo: false\n#| output: asis\nshow_doc(f)", [{"output_type": "display_data", "metadata": {}, "data": {"text/markdown": "doc of f"}}]),
        cell("x = 1", [{"output_type": "execute_result", "metadata": {}, "data": {}, "execution_count": 1}]),
        cell("fig", [{"output_type": "display_data", "metadata": {}, "data": {"text/html": "<script>/**\n* plotly.js v4.1.1\n*/" + "x" * 600_000 + "</script>"}},
                     {"output_type": "display_data", "metadata": {}, "data": {"text/html": "<div></div><script>Plotly.newPlot('a', [])</script>"}}]),
        cell("picture", [{"output_type": "display_data", "metadata": {}, "data": {"image/png": big_png, "text/plain": "<Figure>"}}]),
    ]}
    cells, plotly = page_cells(nb)
    assert plotly, "a page with a plotly figure loads the shared plotly.min.js"
    test = {c["source"]: c for c in cells}
    assert "secret = 1" not in test and all(c["metadata"].get("execution") is None for c in cells)
    assert test["show_doc(f)"]["metadata"]["tags"] == ["remove_input"]       # source hidden, the documentation kept
    assert "x = 1" in test and test["x = 1"]["outputs"] == []                 # empty results dropped
    assert [len(o["data"]["text/html"]) < 1000 for o in test["fig"]["outputs"]] == [True]
    pic = test["picture"]["outputs"][0]["data"]
    assert "image/png" not in pic and len(pic["image/jpeg"]) <= MAX_IMAGE_BYTES
