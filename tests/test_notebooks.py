"""Run every notebook in `nbs/` through nbdev's notebook tester, one pytest test per notebook.

`nbdev-test` alone prints no test count; this file makes each notebook a counted pytest test. Each notebook
runs in its own process (`nbdev-test PATH`), so the cells flagged in `[tool.nbdev] tst_flags` (notest, slow,
cuda) are skipped exactly as `nbdev-test` skips them. Pass `--nb-flags "slow"` to run slow cells too.
"""
import os, subprocess, sys
from pathlib import Path

import pytest

NBS = Path(__file__).resolve().parents[1]/"nbs"
NOTEBOOKS = sorted(p for p in NBS.glob("*.ipynb") if not p.name.startswith("_"))

def test_every_notebook_is_collected():
    "The glob finds the numbered notebooks and the index (so an empty run cannot pass silently)."
    names = [p.name for p in NOTEBOOKS]
    assert "00_core.ipynb" in names and "index.ipynb" in names, names

@pytest.mark.parametrize("nb", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook(nb, request):
    flags = request.config.getoption("--nb-flags")
    cmd = [str(Path(sys.executable).with_name("nbdev-test")), str(nb)] + (["--flags", flags] if flags else [])
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=NBS.parent, env=env, timeout=1800)
    if res.returncode != 0 or "Failed" in res.stdout + res.stderr:
        pytest.fail(f"{nb.name} failed:\n{res.stdout[-6000:]}\n{res.stderr[-12000:]}", pytrace=False)
