"`cxr-graphalign compare` end to end on CPU, its input errors, and the published split the evaluation trains on."
import subprocess, sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cxr_graphalign.core import shared_data_dir

CLI = [sys.executable, "-m", "cxr_graphalign.cli", "compare"]
COVID = shared_data_dir("covid-cxr")


@pytest.mark.skipif(COVID is None, reason="covid-cxr data not found beside the checkout")
def test_quick_compare_writes_table_with_cis_chance_and_paired_test(tmp_path):
    out = tmp_path / "cmp"
    r = subprocess.run([*CLI, "--quick", "--methods", "convirt-tiny", "cga-tiny", "--seeds", "3", "--out", str(out),
                        "--n-train", "32", "--n-test", "32", "--covid-epochs", "1", "--n-boot", "100", "--n-chance", "3"],
                       capture_output=True, text=True, timeout=3600)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    rows = pd.read_csv(out / "compare.csv")
    metrics = set(zip(rows["data"], rows["metric"]))
    assert {("phantom", "pointing (sentence)"), ("phantom", "i2t R@1"), ("covid-cxr", "lung Dice"), ("covid-cxr", "lung-box mAP"),
            ("covid-cxr", "probe accuracy")} <= metrics
    for m in ("convirt-tiny", "cga-tiny"):
        mine = rows[rows["method"] == m]
        assert len(mine) == len(metrics) and (mine["n_seeds"] == 3).all()
        assert (mine["ci_low"] <= mine["mean"] + 1e-12).all() and (mine["mean"] <= mine["ci_high"] + 1e-12).all()
        assert mine["boot_low"].notna().all()
    chance = rows[rows["method"] == "chance"]
    assert set(zip(chance["data"], chance["metric"])) == metrics  # a computed chance row for every metric
    r1 = chance[chance["metric"] == "i2t R@1"]["mean"].item()
    assert abs(r1 - 1 / 32) < 3 * (1 / 32 * 31 / 32 / (32 * 3)) ** 0.5  # random embeddings: R@1 = 1/N (3 sd of 3 draws x 32 queries)
    paired = pd.read_csv(out / "paired.csv")
    assert set(paired["method"]) == {"cga-tiny"} and set(paired["baseline"]) == {"convirt-tiny"} and len(paired) == len(metrics)
    assert paired["p"].dropna().between(0, 1).all() and paired["significant"].isin([True, False]).all()
    assert ((paired["ci_low"] <= paired["diff"] + 1e-12) & (paired["diff"] <= paired["ci_high"] + 1e-12)).all()
    md = (out / "compare.md").read_text()
    assert "| chance |" in md and "paired t-test p" in md and ("x chance" in md or "random heatmaps never hit" in md)
    page = (out / "compare.html").read_text()
    assert "<script" not in page and "http" not in page and "<svg" in page


def test_bad_input_is_one_line_and_exit_2(tmp_path):
    r = subprocess.run([*CLI, "--quick", "--methods", "convirt-tiny", "nosuch-tiny", "--out", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "nosuch-tiny" in r.stderr and "Traceback" not in r.stderr
    r = subprocess.run([*CLI, "--quick", "--baseline", "mgca-tiny", "--out", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "--baseline mgca-tiny" in r.stderr and "Traceback" not in r.stderr
    r = subprocess.run([*CLI, "--quick", "--seeds", "0", "--out", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "--seeds" in r.stderr and "got 0" in r.stderr


@pytest.mark.skipif(COVID is None, reason="covid-cxr data not found beside the checkout")
@pytest.mark.parametrize("fraction", [0.01, 0.1])
def test_evaluating_at_a_fraction_trains_on_exactly_the_published_file(monkeypatch, fraction):
    "`evaluate --task linear-probe --fraction F` fits the probe on the studies the published F file lists, no other."
    from cxr_graphalign.evaluate import suite, classification as C
    from cxr_graphalign.data.splits import split_file
    seen, tasks = [], []
    task = C.covid_cxr_task
    monkeypatch.setattr(C, "covid_cxr_task", lambda *a, **k: tasks.append(task(*a, **k)) or tasks[-1])
    monkeypatch.setattr(C, "extract_features", lambda model, images: np.arange(len(images), dtype=np.float32)[:, None])  # feature = image index
    monkeypatch.setattr(C, "linear_probe", lambda tx, ty, vx, vy, *a, **k: seen.append(tx[:, 0].astype(int)) or {"acc": 0.5})
    suite.run_task(None, "linear-probe", fraction, "covid-cxr", seeds=(0, 1), image_size=32)
    listed = pd.read_csv(split_file("covid-cxr", fraction)); listed = set(listed.study_id[listed.split == "train"])
    studies = tasks[0]["studies"]; usable = {s.study_id for s in studies}  # studies with a frontal image and a usable finding
    assert len(seen) == 2
    for idx in seen: assert {studies[i].study_id for i in idx} == listed & usable
    if fraction == 0.01: assert listed <= usable  # at 1 %: exactly the listed studies


@pytest.mark.parametrize("command", ["compare", "demo"])
def test_an_earlier_comparison_or_demo_is_not_overwritten_without_overwrite(tmp_path, command):
    "A second `compare` / `demo` into a folder that holds one refuses in one line naming --overwrite, and leaves it as it was."
    out = tmp_path / "out"
    (out / "convirt-tiny" / "seed0").mkdir(parents=True)
    (out / "convirt-tiny" / "seed0" / "metrics.csv").write_text("step,loss\n1,0.5\n")
    (out / "compare.json").write_text("{}")
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    r = subprocess.run([sys.executable, "-m", "cxr_graphalign.cli", command, "--quick", "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "--overwrite" in r.stderr and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file() and p.name != ".cxr-graphalign.lock"} == before


def test_a_run_folder_reused_by_compare_holds_only_the_new_run(tmp_path):
    "`pretrain_run` into a folder with an earlier run's metrics and checkpoints: only the new run's rows and checkpoints remain."
    from cxr_graphalign.compare import CompareConfig, pretrain_run
    from cxr_graphalign.data.phantom import PhantomDataset
    out = tmp_path / "convirt-tiny" / "seed0"
    (out / "checkpoints").mkdir(parents=True)
    (out / "metrics.csv").write_text("step,epoch,batch,split,loss\n999,9,0,train,0.123\n")
    (out / "checkpoints" / "step-00000999.pt").write_bytes(b"old")
    from torch.utils.data import Subset
    ds = Subset(PhantomDataset("iu", size=32, seed=0, masks=False), range(8))
    pretrain_run("convirt-tiny", ds, CompareConfig(size=32, epochs=1, batch_size=4), 0, out, "cpu")
    steps = pd.read_csv(out / "metrics.csv")["step"].tolist()
    assert 999 not in steps and steps == sorted(steps) and steps, steps
    assert not (out / "checkpoints" / "step-00000999.pt").exists()


@pytest.mark.parametrize("command", ["compare", "demo"])
def test_a_folder_in_use_by_another_run_is_refused(tmp_path, command):
    "While another run holds the folder's lock, `compare` / `demo` into it exits 2 in one line and writes nothing."
    from cxr_graphalign.validate import folder_lock
    out = tmp_path / "out"
    with folder_lock(out, command):
        r = subprocess.run([sys.executable, "-m", "cxr_graphalign.cli", command, "--quick", "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "in use" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert [p.name for p in out.iterdir()] == [".cxr-graphalign.lock"]


def test_seeds_that_agree_exactly_do_not_make_a_difference_significant():
    """The full-budget table once marked GLoRIA's t2i R@5 significant: its three seeds each retrieved exactly one more
    report of 256 than ConVIRT, so the seeds' t-interval collapsed to [0.004, 0.004] (and the t-test had no p), while the
    bootstrap over test items spanned zero. Without spread over seeds, the test items decide."""
    from cxr_graphalign.compare import CompareConfig, Scored, summarise_runs
    rng = np.random.default_rng(0)
    base = [rng.random(256) < 0.05 for _ in range(3)]
    other = [b.copy() for b in base]
    for o in other:   # in every seed: 3 misses become hits and 2 hits become misses, +1/256 net
        o[np.flatnonzero(~o)[:3]] = True; o[np.flatnonzero(o)[-2:]] = False
    cfg = CompareConfig(methods=("a", "b"), seeds=(0, 1, 2), n_boot=300)
    def runs(): return {**{("a", s): {("phantom", "R@5"): Scored("mean", (base[s].astype(float),))} for s in range(3)},
                        **{("b", s): {("phantom", "R@5"): Scored("mean", (other[s].astype(float),))} for s in range(3)}}
    _, paired = summarise_runs(runs(), {}, cfg)
    (t,) = paired
    assert abs(t["diff"] - 1 / 256) < 1e-12 and t["ci_low"] == pytest.approx(t["ci_high"]) and not np.isfinite(t["p"])
    assert t["boot_low"] < 0 < t["boot_high"] and not t["significant"]
    # a real difference, with spread over seeds, is still found by the seeds' interval
    for s, o in enumerate(other): o[np.flatnonzero(~o)[:20 + 3 * s]] = True
    _, (t,) = summarise_runs(runs(), {}, cfg)
    assert np.isfinite(t["p"]) and t["ci_low"] > 0 and t["significant"]
