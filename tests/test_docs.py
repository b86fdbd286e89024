"""The documentation path without Quarto: README.md is generated from nbs/index.ipynb, every notebook keeps
imports in their own cells (nbdev's docs step re-executes import cells), and the rendered index page opens
in headless Chromium with the title and the quick-start commands, making no network request."""
import json, re, subprocess, sys
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
        assert all(isinstance(n, (ast.Import, ast.ImportFrom)) for n in tree.body), \
            f"{nb.name} cell {i} mixes imports with code: move the imports to their own cell\n{src[:300]}"

@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed at /usr/bin/chromium")
def test_rendered_index_in_chromium(tmp_path):
    from playwright.sync_api import sync_playwright
    out = tmp_path/"_docs"
    res = subprocess.run([sys.executable, str(ROOT/"tools"/"build_docs.py"), "--out", str(out), "--pages", "index.ipynb"],
                         capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0, res.stderr[-3000:]
    requests = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.on("request", lambda r: requests.append(r.url))
        page.goto((out/"index.html").as_uri())
        assert page.locator("h1").first.inner_text().strip().startswith("cxr-graphalign")
        text = page.locator("body").inner_text()
        for cmd in _quickstart_commands(): assert cmd in text, cmd
        assert page.locator("img[src*='overview.svg']").count() == 1
        shots = ROOT/"test-artifacts"; shots.mkdir(exist_ok=True)
        page.screenshot(path=str(shots/"docs_index.png"), full_page=False)
        browser.close()
    external = [u for u in requests if not u.startswith(("file:", "data:", "about:"))]
    assert not external, f"the docs page requested the network: {external[:5]}"

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
