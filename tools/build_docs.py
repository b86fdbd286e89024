"""Build the documentation where Quarto is absent: execute the notebooks (cached), process them with nbdev, render
every page to offline HTML with nbconvert (outputs shown, prompts and `echo: false` / `show_doc` sources hidden,
the grouped sidebar of nbs/sidebar.yml on every page), and regenerate README.md from nbs/index.ipynb.

Where Quarto is installed, `nbdev-docs` builds the real site (see .github/workflows/deploy.yaml); this script is
the offline stand-in used by CI and by `tests/test_docs.py`.

    python tools/build_docs.py                          # every page, executed -> _docs/*.html, README.md
    python tools/build_docs.py --pages '07*.ipynb'      # only these notebooks (a glob in nbs/)
    python tools/build_docs.py --no-execute             # sources only, no outputs (seconds)
    python tools/build_docs.py --workers 2              # notebooks executed in parallel
    python tools/build_docs.py --readme                 # README.md only
    python tools/build_docs.py --check                  # exit 1 if README.md is not up to date with nbs/index.ipynb
    python tools/build_docs.py --executed-into nbs --no-readme   # also write the executed notebooks over nbs/ (the
                                                        # docs workflow does this in its checkout, then Quarto renders them)

Executing all notebooks takes a while on two cores, so each executed notebook is cached in `_docs_cache/`
(or `$CXR_GRAPHALIGN_DOCS_CACHE`) under a key made of the notebook's bytes and the library's sources: a page is
re-executed only when its notebook or the library changed. The committed notebooks stay clean; outputs live in
the cache and the rendered pages only. Cells flagged `notest`, `slow` or `cuda` are skipped, as `nbdev-test` does.
"""
import argparse, base64, hashlib, html, io, json, os, re, shutil, subprocess, sys, tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT/"nbs"
MAX_IMAGE_BYTES = 100_000   # largest base64 image kept in a page as is; bigger ones are re-encoded as JPEG

class BuildError(Exception): "A notebook did not execute or a page could not be built (the message says which and why)."

def page_name(nb: Path) -> str:
    "Quarto's page name for a notebook: the number prefix dropped (`00_core.ipynb` -> `core`)."
    return "index" if nb.stem == "index" else re.sub(r"^\d+[a-z]*_", "", nb.stem)

def select(pages: str | None = None) -> list[Path]:
    "The notebooks of nbs/ matching the glob `pages` (all when None)."
    found = sorted(p for p in NBS.glob(pages or "*.ipynb") if p.suffix == ".ipynb" and not p.name.startswith((".", "_")))
    if not found: raise BuildError(f"--pages {pages!r} matches no notebook in {NBS}; pass a glob such as '01b_graph.parse.ipynb' or '07*.ipynb'")
    return found

# ---- execution, cached by notebook + library content ----
def cache_dir() -> Path: return Path(os.environ.get("CXR_GRAPHALIGN_DOCS_CACHE", ROOT/"_docs_cache"))

def library_hash() -> str:
    "A hash of the library's generated sources (what the notebooks import), `_modidx.py` left out."
    h = hashlib.sha256()
    for f in sorted((ROOT/"cxr_graphalign").rglob("*.py")):
        if f.name != "_modidx.py": h.update(f.relative_to(ROOT).as_posix().encode()); h.update(f.read_bytes())
    return h.hexdigest()

def cache_key(nb: Path, lib: str) -> str: return hashlib.sha256(nb.read_bytes() + lib.encode()).hexdigest()[:16]

def execute(nb: Path, lib: str, timeout: int = 1800) -> Path:
    "The executed copy of `nb` from the cache, executing it first when its key is new."
    cache = cache_dir(); cache.mkdir(parents=True, exist_ok=True)
    dst = cache/f"{nb.stem}.{cache_key(nb, lib)}.ipynb"
    if dst.exists(): return dst
    work = Path(tempfile.mkdtemp(prefix="_docs_exec_", dir=ROOT))   # a sibling of nbs/: relative paths resolve the same
    try:
        shutil.copy2(nb, work/nb.name)
        res = subprocess.run([sys.executable, __file__, "--execute-one", str(work/nb.name)], cwd=ROOT,
                             capture_output=True, text=True, timeout=timeout)
        if res.returncode != 0:
            raise BuildError(f"{nb.name}: executing the notebook failed (run `nbdev-test {nb.relative_to(ROOT)}` to see it):\n"
                             f"{(res.stdout + res.stderr)[-3000:]}")
        for old in cache.glob(f"{nb.stem}.*.ipynb"): old.unlink()
        tmp = dst.with_suffix(".tmp"); shutil.move(work/nb.name, tmp); tmp.replace(dst)
    finally: shutil.rmtree(work, ignore_errors=True)
    return dst

def _execute_one(path: str) -> int:
    "Worker: run one notebook copy top to bottom with nbdev's tester and save its outputs into it."
    from nbdev.config import get_config
    from nbdev.test import test_nb
    ok, _ = test_nb(path, skip_flags=get_config().tst_flags.split(), save=True)
    return 0 if ok else 1

# ---- nbdev processing into _proc/ ----
def process(nbs: list[Path], executed: dict) -> Path:
    "Stage the (executed) notebooks beside nbs/'s other files and run nbdev's docs processors into `_proc/`."
    from nbdev.serve import proc_nbs
    stage = Path(tempfile.mkdtemp(prefix="_docs_stage_", dir=ROOT))/"nbs"
    try:
        shutil.copytree(NBS, stage, ignore=shutil.ignore_patterns("*.ipynb", ".*"))
        for nb in nbs: shutil.copy2(executed.get(nb, nb), stage/nb.name)
        cwd = os.getcwd(); os.chdir(ROOT)
        try: proc = Path(proc_nbs(str(stage), n_workers=0, force=True))
        finally: os.chdir(cwd)
    finally: shutil.rmtree(stage.parent, ignore_errors=True)
    return proc

def frontmatter(nb: dict) -> dict:
    "Title and description from the raw front-matter cell that nbdev's processors write."
    for c in nb["cells"]:
        src = "".join(c["source"])
        if c["cell_type"] == "raw" and src.startswith("---"):
            import yaml
            return yaml.safe_load(src.strip().strip("-")) or {}
    return {}

def readme_markdown(proc_index: Path) -> str:
    "README.md text from the processed index notebook (front matter turned back into a title + summary, code without outputs)."
    nb = json.loads(proc_index.read_text())
    fm = frontmatter(nb)
    parts = [f"# {fm.get('title', 'cxr-graphalign')}\n", f"> {fm['description']}\n" if fm.get("description") else ""]
    parts.insert(0, "<!-- WARNING: THIS FILE WAS AUTOGENERATED FROM nbs/index.ipynb BY tools/build_docs.py! DO NOT EDIT! -->\n")
    for c in nb["cells"]:
        src = "".join(c["source"]).strip()
        if not src or (c["cell_type"] == "raw" and src.startswith("---")) or src.startswith("<!-- WARNING"): continue
        if c["cell_type"] == "markdown":
            parts.append(re.sub(r"\]\((images/[^)]+)\)", r"](nbs/\1)", src) + "\n")
        elif c["cell_type"] == "code": parts.append(f"```python\n{src}\n```\n")   # sources only: the same README with or without execution
    return "\n".join(p for p in parts if p)

# ---- cells and outputs as a page shows them ----
DIRECTIVE = re.compile(r"^#\|\s*([\w-]+)\s*:?\s*(.*?)\s*$")

def directives(src: str) -> tuple[dict, str]:
    "The leading `#| key: value` directives of a cell and its source without them."
    lines, d = src.splitlines(), {}
    while lines and (m := DIRECTIVE.match(lines[0])):
        d[m.group(1).lower()] = m.group(2).lower() or "true"; lines.pop(0)
    return d, "\n".join(lines)

def _is_plotly_bundle(o: dict) -> bool:
    "The output that inlines all of plotly.js (the notebook renderer's first figure): the page loads one shared copy instead."
    h = "".join(o.get("data", {}).get("text/html", ""))
    return len(h) > 500_000 and "plotly.js v" in h[:2000]

def shrink_image(b64: str) -> tuple[str, str]:
    "A base64 PNG over `MAX_IMAGE_BYTES` re-encoded as JPEG (halving its size until it fits): (mime, base64)."
    from PIL import Image
    im = Image.open(io.BytesIO(base64.b64decode(b64))).convert("RGB")
    while True:
        buf = io.BytesIO(); im.save(buf, format="JPEG", quality=85)
        out = base64.b64encode(buf.getvalue()).decode("ascii")
        if len(out) <= MAX_IMAGE_BYTES or min(im.size) < 64: return "image/jpeg", out
        im = im.resize((im.width // 2, im.height // 2))

def page_cells(nb: dict) -> tuple[list, bool]:
    "The cells a page shows (directives applied, empty and bundled-library outputs dropped) and whether it needs plotly.js."
    cells, plotly = [], False
    for c in nb["cells"]:
        c = {k: v for k, v in c.items() if k in ("cell_type", "id", "source", "outputs", "execution_count", "attachments")}
        c["metadata"] = {}
        src = "".join(c["source"])
        if c["cell_type"] == "raw" and src.startswith("---"): continue
        if c["cell_type"] != "code": cells.append(c); continue
        d, c["source"] = directives(src)
        if d.get("hide") == "true" or d.get("include") == "false": continue
        outs = []
        for o in ([] if d.get("output") == "false" else c.get("outputs", [])):
            if o.get("output_type") in ("display_data", "execute_result") and not o.get("data"): continue
            if _is_plotly_bundle(o): plotly = True; continue
            data = o.get("data", {})
            if "text/html" in data and "Plotly.newPlot" in "".join(data["text/html"]): plotly = True
            for mime in ("image/png",):
                if mime in data and len("".join(data[mime])) > MAX_IMAGE_BYTES:
                    new, b64 = shrink_image("".join(data.pop(mime))); data[new] = b64
            outs.append(o)
        c["outputs"] = outs
        if d.get("echo") == "false" or not c["source"].strip():
            if not outs: continue
            c["metadata"] = {"tags": ["remove_input"]}
        cells.append(c)
    return cells, plotly

# ---- the page around the notebook ----
def sidebar_entries(sidebar_yml: Path = NBS/"sidebar.yml") -> list:
    "The sidebar as [(section or None, [notebook names])], in the order of nbs/sidebar.yml."
    import yaml
    out = []
    for item in yaml.safe_load(sidebar_yml.read_text())["website"]["sidebar"]["contents"]:
        if isinstance(item, str): out.append((None, [item]))
        else: out.append((item["section"], [x for x in item.get("contents", []) if isinstance(x, str)]))
    return out

def notebook_title(nb: Path) -> str:
    "A notebook's title: the text of its first `# ` heading."
    for c in json.loads(nb.read_text())["cells"]:
        if c["cell_type"] == "markdown" and (m := re.match(r"#\s+(.+)", "".join(c["source"]).lstrip())): return m.group(1).strip()
    return nb.stem

def sidebar_html(current: str, titles: dict) -> str:
    "The grouped navigation of every page, with `current` marked."
    def link(name):
        page = page_name(Path(name))
        cls = ' class="active" aria-current="page"' if page == current else ""
        return f'<li><a href="{page}.html"{cls}>{html.escape(titles.get(name, page))}</a></li>'
    parts = []
    for section, names in sidebar_entries():
        items = "".join(link(n) for n in names)
        parts.append(f"<li class='section'><span>{html.escape(section)}</span><ul>{items}</ul></li>" if section else items)
    return f'<nav class="cga-sidebar" aria-label="pages"><a class="brand" href="index.html">cxr-graphalign</a><ul>{"".join(parts)}</ul></nav>'

SITE_CSS = """<style>
body{margin:0} .cga-sidebar{position:fixed;top:0;left:0;bottom:0;width:250px;overflow-y:auto;padding:14px 10px;
 box-sizing:border-box;background:#f7f7f9;border-right:1px solid #e3e3e8;font:14px/1.45 system-ui,sans-serif}
.cga-sidebar ul{list-style:none;margin:0;padding:0} .cga-sidebar li.section>span{display:block;margin:10px 0 2px;font-weight:600;color:#555}
.cga-sidebar li.section ul{padding-left:10px} .cga-sidebar a{color:#2a5db0;text-decoration:none;display:block;padding:1px 4px;border-radius:3px}
.cga-sidebar a.active{background:#2a5db0;color:#fff} .cga-sidebar .brand{font-weight:700;font-size:16px;color:#222;margin-bottom:8px}
.cga-main{margin-left:250px} .cga-main .description{font-style:italic;opacity:.75;font-size:1.15em}
@media (max-width:800px){.cga-sidebar{position:static;width:auto;height:auto}.cga-main{margin-left:0}}
</style>"""

def _alt(img_tag: str) -> str:
    "The alt text of a remote `<img>` (shown instead of fetching it)."
    m = re.search(r"\balt=[\"']([^\"']*)", img_tag)
    return html.escape(m.group(1)) if m else ""

def offline(page: str) -> str:
    "Drop CDN scripts and stylesheets (require.js, MathJax, widgets) and show remote images (badges) as their alt text: pages stay offline."
    page = re.sub(r"<script[^>]*\bsrc=[\"']https?://[^>]*>\s*</script>", "", page)
    page = re.sub(r"<link[^>]*\bhref=[\"']https?://[^>]*>", "", page)
    page = re.sub(r"<img[^>]*\bsrc=[\"']https?://[^>]*>", lambda m: _alt(m.group(0)), page)
    page = re.sub(r"<script>\s*\(function\(\) \{\s*function addWidgetsRenderer.*?</script>", "", page, flags=re.S)
    return page

def render_page(proc_nb: Path, out: Path, titles: dict) -> tuple[str, str]:
    "Render one processed notebook to `out/<page>.html`; returns (page name, title)."
    import nbformat
    from nbconvert import HTMLExporter
    from traitlets.config import Config
    raw = json.loads(proc_nb.read_text())
    fm = frontmatter(raw)
    title, name = fm.get("title", proc_nb.stem), page_name(proc_nb)
    raw["cells"], plotly = page_cells(raw)
    raw["metadata"] = {k: v for k, v in raw.get("metadata", {}).items() if k in ("kernelspec", "language_info")}
    nb = nbformat.reads(json.dumps(raw), as_version=4)
    desc = re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(fm.get("description", "")))
    nb.cells.insert(0, nbformat.v4.new_markdown_cell(f"# {title}\n\n<p class='description'>{desc}</p>"))
    cfg = Config({"TagRemovePreprocessor": {"enabled": True, "remove_input_tags": ["remove_input"]},
                  "HTMLExporter": {"exclude_input_prompt": True, "exclude_output_prompt": True}})
    body, _ = HTMLExporter(template_name="lab", config=cfg).from_notebook_node(nb, resources={"metadata": {"name": title}})
    body = offline(body)
    head = SITE_CSS + ('<script src="plotly.min.js"></script>' if plotly else "")
    body = body.replace("</head>", head + "\n</head>", 1)
    body = re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + sidebar_html(name, titles) + '<div class="cga-main">', body, count=1)
    body = body.replace("</body>", "</div></body>", 1)
    if plotly and not (out/"plotly.min.js").exists():
        from plotly.offline import get_plotlyjs
        (out/"plotly.min.js").write_text(get_plotlyjs(), encoding="utf-8")
    (out/f"{name}.html").write_text(body, encoding="utf-8")
    return name, title

def render_html(proc: Path, out: Path, nbs: list[Path]) -> list:
    "Render the processed notebooks of `nbs` into `out/`."
    out.mkdir(parents=True, exist_ok=True)
    titles = {p.name: notebook_title(p) for p in select()}
    pages = [render_page(proc/nb.name, out, titles) for nb in nbs]
    if (proc/"images").exists(): shutil.copytree(proc/"images", out/"images", dirs_exist_ok=True)
    return pages

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--readme", action="store_true", help="only regenerate README.md")
    ap.add_argument("--check", action="store_true", help="fail if README.md is stale")
    ap.add_argument("--pages", default=None, help="only these notebooks (a glob in nbs/, e.g. '01b_graph.parse.ipynb' or '07*.ipynb')")
    ap.add_argument("--out", default=str(ROOT/"_docs"), help="output folder for the HTML pages (default _docs/)")
    ap.add_argument("--no-execute", action="store_true", help="render the notebooks as committed, without outputs")
    ap.add_argument("--no-readme", action="store_true", help="leave README.md alone (a full build regenerates it)")
    ap.add_argument("--workers", type=int, default=1, help="notebooks executed in parallel (default 1)")
    ap.add_argument("--timeout", type=int, default=1800, help="seconds allowed to execute one notebook (default 1800)")
    ap.add_argument("--executed-into", default=None, help="also copy each executed notebook (with its outputs) into this folder, "
                                                        "e.g. nbs/ in a throwaway checkout before `nbdev-docs` (Quarto does not execute notebooks)")
    ap.add_argument("--execute-one", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.execute_one: return _execute_one(a.execute_one)
    try:
        nbs = select("index.ipynb" if (a.readme or a.check) else a.pages)
        executed = {}
        if not (a.readme or a.check or a.no_execute):
            lib = library_hash()
            with ThreadPoolExecutor(max(1, a.workers)) as pool:
                executed = dict(zip(nbs, pool.map(lambda nb: execute(nb, lib, a.timeout), nbs)))
            if a.executed_into:
                into = Path(a.executed_into); into.mkdir(parents=True, exist_ok=True)
                for nb, done in executed.items(): shutil.copyfile(done, into/nb.name)
        proc = process(nbs, executed)
    except BuildError as e:
        print(f"build_docs: {e}", file=sys.stderr); return 1
    if a.check or a.readme or (a.pages is None and not a.no_readme):
        md = readme_markdown(proc/"index.ipynb")
        if a.check:
            ok = (ROOT/"README.md").exists() and (ROOT/"README.md").read_text() == md
            print("README.md is up to date" if ok else "README.md is stale: run `python tools/build_docs.py --readme`")
            return 0 if ok else 1
        (ROOT/"README.md").write_text(md)
        print(f"wrote {ROOT/'README.md'}")
    if not a.readme:
        pages = render_html(proc, Path(a.out), nbs)
        print(f"rendered {len(pages)} pages to {a.out}")
    return 0

if __name__ == "__main__": sys.exit(main())
