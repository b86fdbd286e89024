"Helpers for the command-line hardening tests: run `cxr-graphalign` in this process and capture what a user sees."
import contextlib, io, os, sys, warnings
from pathlib import Path

import numpy as np
import pandas as pd


class Result:
    "Exit code, stdout and stderr of one in-process `cxr-graphalign` run; `crashed` holds an exception that escaped."
    def __init__(self, rc, out, err, crashed=None): self.rc, self.out, self.err, self.crashed = rc, out, err, crashed
    @property
    def lines(self): return [l for l in (self.err + self.out).splitlines() if l.strip()]
    def __repr__(self): return f"Result(rc={self.rc}, crashed={self.crashed!r}, err={self.err[-1500:]!r}, out={self.out[-500:]!r})"


def cli(*argv, stdin: bytes = b"", cwd=None) -> Result:
    "Run `cxr_graphalign.cli.main(argv)` here, as a user would from a shell (stdin bytes, working folder `cwd`)."
    from cxr_graphalign.cli import main
    out, err = io.StringIO(), io.StringIO()
    old_stdin, old_cwd = sys.stdin, os.getcwd()
    sys.stdin = io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8")
    rc, crashed = None, None
    try:
        if cwd is not None: os.chdir(cwd)
        with warnings.catch_warnings(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            warnings.simplefilter("ignore")
            try: rc = main([str(a) for a in argv])
            except SystemExit as e: rc = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
            except BaseException as e: crashed = e   # a traceback the user would see
    finally:
        sys.stdin = old_stdin; os.chdir(old_cwd)
    return Result(rc, out.getvalue(), err.getvalue(), crashed)


def covid_fixture(root: Path, n: int = 4, bad: dict | None = None) -> Path:
    "A tiny covid-chestxray-dataset folder in the official layout (metadata.csv + images/); `bad` maps index -> file bytes."
    from PIL import Image
    (root/"images").mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        f = root/"images"/f"i{i}.png"
        if bad and i in bad: f.write_bytes(bad[i])
        else: Image.fromarray((np.arange(40*30).reshape(30, 40) * (i + 1) % 251).astype(np.uint8)).save(f)
        rows.append(dict(patientid=i, finding="COVID-19" if i % 2 else "No Finding", view="PA", modality="X-ray", folder="images",
                         filename=f.name, clinical_notes=f"Bilateral opacities {i}." if i % 2 else "Lungs are clear."))
    pd.DataFrame(rows).to_csv(root/"metadata.csv", index=False)
    return root


def subset_fixture(root: Path, bad: dict | None = None, n: int = 3) -> Path:
    "A tiny 512 px subset folder (metadata_frontal_notes.csv + images512/), the layout of ../shared/data/covid-cxr."
    from PIL import Image
    (root/"images512").mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        f = root/"images512"/f"s{i}.png"
        if bad and i in bad: f.write_bytes(bad[i])
        else: Image.fromarray(np.full((40, 50), 30 * (i + 1), np.uint8)).save(f)
        rows.append(dict(patientid=i, finding="COVID-19", view="PA", modality="X-ray", folder="images", filename=f"s{i}.jpg", image512=f.name,
                         orig_w=50, orig_h=40, clinical_notes=f"Patchy opacity {i}."))
    pd.DataFrame(rows).to_csv(root/"metadata_frontal_notes.csv", index=False)
    return root


def tree(folder: Path, skip=()) -> dict:
    "Every file below `folder` (except below the `skip` folders) -> (size, mtime_ns): a snapshot to compare."
    snap = {}
    skip = [Path(s).resolve() for s in skip]
    for dp, dns, fns in os.walk(folder):
        d = Path(dp).resolve()
        if any(d == s or s in d.parents for s in skip): dns[:] = []; continue
        for fn in fns:
            p = d/fn
            if p in skip: continue
            try: st = p.lstat(); snap[str(p)] = (st.st_size, st.st_mtime_ns)
            except OSError: pass
        snap[str(d)] = "dir"
    return snap
