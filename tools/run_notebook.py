"""Run a notebook's code cells top to bottom in a plain Python environment: IPython only (a dependency of the base
install through ipywidgets), no Jupyter server, kernel or nbdev. Cells marked `#| eval: false` or with one of the
test flags (`#| notest`, `#| slow`, `#| cuda`) are skipped, as `nbdev-test` does.

    python tools/run_notebook.py nbs/01b_graph.parse.ipynb   # exit 1 and the failing cell on the first error

`.ci/run` uses it in a virtual environment holding only the built wheel, to show a notebook runs for a user of
`pip install cxr-graphalign` (Colab included) without the dev tools.
"""
import json, os, re, sys
from pathlib import Path

SKIP = re.compile(r"^#\|\s*(eval:\s*false|notest|slow|cuda)\b", re.M)

def code_cells(nb_path: Path) -> list[str]:
    "The sources of the code cells that a test run executes, in order."
    cells = json.loads(nb_path.read_text(encoding="utf-8"))["cells"]
    return [src for c in cells if c["cell_type"] == "code" and not SKIP.search(src := "".join(c["source"]))]

def run(nb_path: Path) -> int:
    "Execute the notebook in one IPython shell with the notebook's folder as working directory; 0 when every cell ran."
    from IPython.core.interactiveshell import InteractiveShell
    nb_path = nb_path.resolve()
    os.chdir(nb_path.parent)
    shell = InteractiveShell.instance()
    cells = code_cells(nb_path)
    for i, src in enumerate(cells):
        res = shell.run_cell(src, silent=False, store_history=False)
        if not res.success:
            print(f"{nb_path.name}: code cell {i} of {len(cells)} failed:\n{src[:800]}", file=sys.stderr)
            return 1
    print(f"{nb_path.name}: ran {len(cells)} code cells top to bottom")
    return 0

if __name__ == "__main__":
    if len(sys.argv) != 2 or not Path(sys.argv[1]).is_file():
        print("usage: python tools/run_notebook.py NOTEBOOK.ipynb (an existing notebook file)", file=sys.stderr); sys.exit(2)
    sys.exit(run(Path(sys.argv[1])))
