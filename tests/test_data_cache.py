"""End-to-end tests of `cxr-graphalign prepare`: the CLI on the real covid-cxr subset, --verify, bad roots, and a
resume after a real `kill -9` that must give the same cache as an uninterrupted build."""
import json, os, signal, subprocess, sys, time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cxr_graphalign.core import shared_data_dir

COVID = shared_data_dir("covid-cxr")
needs_covid = pytest.mark.skipif(COVID is None, reason="shared/data/covid-cxr not found beside the checkout")
CLI = [sys.executable, "-m", "cxr_graphalign.cli", "prepare"]


def run(*args, **kw):
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, timeout=600, **kw)


def cache_state(out: Path):
    "Everything that defines a cache's content: chunk checksums + per-image meta, and both tables."
    m = json.loads((out/"manifest.json").read_text())
    tables = {n: pd.read_parquet(out/n) for n in ("studies.parquet", "images.parquet")}
    return m["chunks"], m["n_images"], tables


@needs_covid
def test_cli_prepare_covid_end_to_end(tmp_path):
    out = tmp_path/"covid"
    r = run("covid-cxr", "--root", COVID, "--out", out, "--size", 64, "--chunk-size", 64, "--workers", 2, "--verify", "--quiet")
    assert r.returncode == 0, r.stderr[-3000:]
    assert "444 studies, 444 images (444 ok, 0 corrupt, 0 missing skipped)" in r.stdout, r.stdout
    assert "verify: all 7 chunks" in r.stdout
    from cxr_graphalign.data.cache import CacheDataset
    ds = CacheDataset(out, augment=True, crop=56)
    assert len(ds) == 444
    s = ds[3]
    assert s["image"].shape == (1, 56, 56) and s["region_boxes"].shape == (29, 4) and s["labels"].shape == (14,)
    assert s["text"] == pd.read_parquet(out/"studies.parquet")["text"][3]
    sizes = {sp: len(CacheDataset(out, split=sp)) for sp in ("train", "valid", "test")}
    assert sum(sizes.values()) == 444 and sizes["train"] > 250 and sizes["test"] > 40, sizes   # MGCA-style 70/15/15 by patient
    # a tampered chunk is named and rebuilt by a rerun, which then verifies clean and restores the original bytes
    c = out/"images"/"chunk_00002.npy"
    good = c.read_bytes(); raw = bytearray(good); raw[-10] ^= 0xFF; c.write_bytes(bytes(raw))
    r = run("covid-cxr", "--root", COVID, "--out", out, "--size", 64, "--chunk-size", 64, "--verify", "--quiet")
    assert r.returncode == 0 and "chunk_00002.npy is corrupt" in r.stderr and "rebuilding it" in r.stderr, r.stderr
    assert "verify: all 7 chunks" in r.stdout and c.read_bytes() == good


def test_cli_prepare_bad_root(tmp_path):
    (tmp_path/"root").mkdir()
    r = run("covid-cxr", "--root", tmp_path/"root", "--out", tmp_path/"out", "--quiet")
    assert r.returncode == 2
    assert "does not hold metadata.csv or metadata_frontal_notes.csv" in r.stderr, r.stderr


def test_cli_prepare_missing_images(tmp_path):
    from PIL import Image
    root = tmp_path/"root"; (root/"images").mkdir(parents=True)
    rows = []
    for i in range(6):
        if i < 3: Image.fromarray(np.full((30, 40), 40*i, np.uint8)).save(root/"images"/f"i{i}.png")
        rows.append(dict(patientid=i, finding="COVID-19", view="PA", modality="X-ray", folder="images", filename=f"i{i}.png",
                         clinical_notes=f"Bilateral opacities {i}."))
    pd.DataFrame(rows).to_csv(root/"metadata.csv", index=False)
    r = run("covid-cxr", "--root", root, "--out", tmp_path/"o", "--size", 32, "--quiet", "--no-graph")
    assert r.returncode == 2 and "3 image file(s) of covid-chestxray-dataset are missing" in r.stderr, r.stderr
    r = run("covid-cxr", "--root", root, "--out", tmp_path/"o", "--size", 32, "--quiet", "--no-graph", "--skip-missing")
    assert r.returncode == 0 and "3 images (3 ok, 0 corrupt, 3 missing skipped)" in r.stdout, r.stdout + r.stderr


@needs_covid
def test_resume_after_kill_9_equals_uninterrupted(tmp_path):
    args = ["covid-cxr", "--root", COVID, "--size", 64, "--chunk-size", 8, "--workers", 2, "--no-graph", "--quiet"]
    killed = tmp_path/"killed"
    p = subprocess.Popen([*CLI, *map(str, args), "--out", str(killed)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         start_new_session=True)
    mf, deadline, n_done = killed/"manifest.json", time.time() + 300, 0
    while time.time() < deadline and p.poll() is None:
        try: n_done = len(json.loads(mf.read_text())["chunks"])
        except (FileNotFoundError, json.JSONDecodeError, KeyError): n_done = 0
        if n_done >= 5: break
        time.sleep(0.02)
    os.killpg(p.pid, signal.SIGKILL)   # the whole build: main process and its decoding workers
    p.wait()
    m = json.loads(mf.read_text())
    assert not m["complete"] and 5 <= len(m["chunks"]) < 56, f"the build was not killed midway ({len(m['chunks'])} chunks)"
    assert not (killed/"studies.parquet").exists()
    for f in (killed/"images").glob("chunk_*.npy"): np.load(f, mmap_mode="r")   # no half-written chunk under a final name

    r = run(*args, "--out", killed, "--verify")
    assert r.returncode == 0, r.stderr[-3000:]
    reused = int(r.stdout.split(" reused")[0].split()[-1])
    assert reused >= 5, r.stdout   # the rerun continued instead of starting over

    fresh = tmp_path/"fresh"
    assert run(*args, "--out", fresh).returncode == 0
    chunks_a, n_a, tables_a = cache_state(killed)
    chunks_b, n_b, tables_b = cache_state(fresh)
    assert n_a == n_b == 444 and chunks_a == chunks_b
    for name in tables_a: pd.testing.assert_frame_equal(tables_a[name], tables_b[name])


def test_cli_prepare_iu_reports_only(tmp_path):
    "The IU X-ray reports (no images) build a cache end to end: every report parsed into a graph."
    pytest.importorskip("torchxrayvision")
    out = tmp_path/"iu"
    r = run("iu-xray", "--out", out, "--size", 64, "--workers", 2, "--verify", "--quiet")
    assert r.returncode == 0, r.stderr[-3000:]
    assert "3955 studies, 0 images" in r.stdout, r.stdout
    from cxr_graphalign.data.cache import CacheDataset
    from cxr_graphalign.graph.parse import ReportGraph
    with pytest.raises(Exception, match="require_image=False"): CacheDataset(out)
    ds = CacheDataset(out, require_image=False)
    assert len(ds) == 3955
    s = ds[0]
    assert isinstance(s["graph"], ReportGraph) and s["graph"].text == s["text"] and s["graph"].entities
    test_ids = pd.read_parquet(out/"studies.parquet").query("split == 'test'").study_id
    assert len(test_ids) > 1900 and all(int(i[3:]) % 2 == 1 for i in test_ids)   # odd ids: the blind set is the test split
    assert s["image"].shape == (1, 64, 64) and float(s["image"].max()) == 0.0
