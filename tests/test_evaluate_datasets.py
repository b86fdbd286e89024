"""`evaluate --data chexpert|rsna|siim|covidx --root DIR` end to end on fixtures in the official formats: the commands of the
anchors' table, the published split each adapter trains on, and one-line errors for bad input."""
import subprocess, sys
import numpy as np
import pandas as pd
import pytest
from cxr_graphalign.evaluate.datasets import DATASET_TASKS, write_fixture

N = {"chexpert": 400, "rsna": 120, "siim": 120, "covidx": 120}  # CheXpert: enough pure-positive images for a 5x4 zero-shot list

@pytest.fixture(scope="module")
def roots(tmp_path_factory):
    base = tmp_path_factory.mktemp("credentialed")
    return {d: write_fixture(d, base/d, n=N[d]) for d in DATASET_TASKS}

@pytest.fixture(scope="module")
def splits(roots, tmp_path_factory):
    "Split files written once from the fixtures (CheXpert's 5x200 list at 4 per class, the fixture's size)."
    from cxr_graphalign.data.splits import write_split_files
    from cxr_graphalign.evaluate.datasets import read_eval_studies
    out = tmp_path_factory.mktemp("splits")
    for d, r in roots.items(): write_split_files(read_eval_studies(d, r), out, d, per_class=4)
    return out

def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "cxr_graphalign.cli", "evaluate", *map(str, args)], capture_output=True, text=True, timeout=900)

# the anchors' table, one command per cell group (what the notebook `06h_evaluate.datasets` documents), at tiny sizes
COMMANDS = [("chexpert", ["--suite", "mgca"], {("linear-probe", "auc")}),
            ("chexpert", ["--task", "zeroshot"], {("zeroshot", "acc"), ("zeroshot", "auc")}),
            ("chexpert", ["--task", "retrieval"], {("retrieval", "P@1"), ("retrieval", "P@5")}),
            ("rsna", ["--task", "linear-probe", "--fraction", "0.1"], {("linear-probe", "auc")}),
            ("rsna", ["--task", "finetune", "--epochs", "1"], {("finetune", "auc")}),
            ("rsna", ["--task", "segmentation", "--epochs", "1"], {("segmentation", "dice")}),
            ("rsna", ["--task", "detection", "--epochs", "1"], {("detection", "map")}),
            ("siim", ["--suite", "mgca", "--epochs", "1"], {("segmentation", "dice")}),
            ("covidx", ["--task", "linear-probe", "--fraction", "0.01"], {("linear-probe", "acc")})]

@pytest.mark.parametrize("data,args,expect", COMMANDS, ids=[f"{d}-{a[1]}" for d, a, _ in COMMANDS])
def test_anchor_commands_run_on_fixtures(roots, splits, tmp_path, data, args, expect):
    csv = tmp_path/"anchors.csv"
    r = run_cli("--checkpoint", "random:convirt-tiny", *args, "--data", data, "--root", roots[data], "--splits", splits,
                "--image-size", 32, "--seeds", 0, "--results", csv)
    assert r.returncode == 0, r.stderr + r.stdout
    df = pd.read_csv(csv)
    assert expect <= set(zip(df.task, df.metric)) and (df.data == data).all(), df
    assert df["mean"].between(0, 1).all()
    if "--suite" in args and data == "chexpert": assert sorted(df.fraction.unique()) == [0.01, 0.1, 1.0]

def test_anchor_table_has_the_dataset_columns(roots, splits, tmp_path):
    from cxr_graphalign.evaluate.suite import read_results, anchor_table
    csv = tmp_path/"anchors.csv"
    for d in ("rsna", "covidx"):
        r = run_cli("--checkpoint", "random:convirt-tiny", "--task", "linear-probe", "--fraction", 1.0, "--data", d, "--root", roots[d],
                    "--splits", splits, "--image-size", 32, "--seeds", 0, "--results", csv, "--name", "random")
        assert r.returncode == 0, r.stderr + r.stdout
    cells = anchor_table(read_results(csv)).splitlines()[2].split(" | ")
    assert cells[1] == "needs chexpert" and cells[2].startswith("–/–/") and cells[3].startswith("–/–/") and cells[4] == "needs siim"

@pytest.mark.parametrize("data,task", [(d, t) for d, ts in DATASET_TASKS.items() for t in ts if t in ("linear-probe", "segmentation", "detection")])
def test_evaluating_at_1pct_trains_on_exactly_the_published_file(roots, splits, monkeypatch, data, task):
    "At 1 % (10 % on RSNA's boxed images: the fixture's 1 % file holds no box) the task fits on the studies the file lists as train."
    from cxr_graphalign.evaluate import suite, datasets, classification as C, segmentation as S, detection as D
    fraction = 0.1 if data == "rsna" and task in ("segmentation", "detection") else 0.01
    seen, tasks = [], []
    build = datasets.dataset_task
    monkeypatch.setattr(datasets, "dataset_task", lambda *a, **k: tasks.append(build(*a, **k)) or tasks[-1])
    monkeypatch.setattr(C, "extract_features", lambda model, images: np.arange(len(images), dtype=np.float32)[:, None])  # feature = index
    monkeypatch.setattr(C, "linear_probe", lambda tx, ty, vx, vy, *a, **k: seen.append(tx[:, 0].astype(int)) or {"auc": 0.5})
    monkeypatch.setattr(S, "FrozenUNet", lambda model: None); monkeypatch.setattr(S, "encode_pyramids", lambda unet, images: None)
    monkeypatch.setattr(S, "train_segmentation", lambda model, im, m, tr, te, **k: seen.append(np.asarray(tr)) or {"dice": .5, "iou": .5})
    monkeypatch.setattr(D, "train_detection", lambda model, im, t, tr, te, n, **k: seen.append(np.asarray(tr)) or {"map": .5})
    suite.run_task(None, task, fraction, data, roots[data], seeds=(0, 1), image_size=32, splits=splits)
    listed = pd.read_csv(splits/f"{data}_train{fraction * 100:g}pct.csv", dtype={"study_id": str})
    listed = set(listed.study_id[listed.split == "train"])
    studies = tasks[0]["studies"]
    assert len(seen) == 2 and len(listed) >= 1
    for idx in seen:
        got = {studies[i].study_id for i in idx}
        if task == "detection" or (data, task) == ("rsna", "segmentation"):  # the boxed images among the listed ones
            assert got and got == {s for s in listed if s in {x.study_id for x in studies}} and got <= listed
        else: assert got == listed

def test_bad_input_is_one_line(roots, splits, tmp_path):
    csv = tmp_path/"r.csv"
    def err(*a):
        r = run_cli("--checkpoint", "random:convirt-tiny", "--image-size", 32, "--seeds", 0, "--results", csv, *a)
        assert r.returncode == 2 and "Traceback" not in r.stderr + r.stdout, r.stderr + r.stdout
        return (r.stdout + r.stderr).strip()
    msg = err("--task", "linear-probe", "--data", "rsna", "--root", roots["siim"], "--splits", tmp_path/"s")
    assert "does not hold stage_2_train_labels.csv" in msg and len(msg.splitlines()) == 1
    assert "needs --root" in err("--task", "segmentation", "--data", "siim")
    bad = write_fixture("covidx", tmp_path/"covidx", n=20)
    (bad/"train"/"train-00003.png").unlink()
    assert "image file(s) of COVIDx are missing" in err("--task", "linear-probe", "--data", "covidx", "--root", bad, "--splits", tmp_path/"s")
    rsna = write_fixture("rsna", tmp_path/"rsna", n=10)
    pd.read_csv(rsna/"stage_2_train_labels.csv").drop(columns="Target").to_csv(rsna/"stage_2_train_labels.csv", index=False)
    assert "missing column(s) ['Target']" in err("--task", "linear-probe", "--data", "rsna", "--root", rsna, "--splits", tmp_path/"s")
    r = run_cli("--checkpoint", "random:convirt-tiny", "--task", "linear-probe", "--data", "mimic", "--results", csv)
    assert r.returncode == 2 and "--data" in r.stderr and "invalid choice" in r.stderr
    assert not csv.exists()

def test_prepare_pretrain_evaluate_from_a_mimic_fixture(roots, splits, tmp_path):
    "The first two lines of every row (prepare MIMIC-CXR, pretrain) on its official-format fixture, then one evaluate line on its checkpoint."
    mimic = write_fixture("mimic-cxr", tmp_path/"mimic", n=40)
    cli = [sys.executable, "-m", "cxr_graphalign.cli"]
    r = subprocess.run([*cli, "prepare", "mimic-cxr", "--root", str(mimic), "--out", str(tmp_path/"cache"), "--size", "32", "--workers", "0"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr + r.stdout
    r = subprocess.run([*cli, "pretrain", "--method", "convirt-tiny", "--data", str(tmp_path/"cache"), "--image-size", "32", "--epochs", "1",
                        "--batch-size", "8", "--out", str(tmp_path/"run"), "--quiet"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr + r.stdout
    r = run_cli("--checkpoint", tmp_path/"run", "--task", "linear-probe", "--fraction", 0.1, "--data", "covidx", "--root", roots["covidx"],
                "--splits", splits, "--image-size", 32, "--seeds", 0, "--results", tmp_path/"anchors.csv")
    assert r.returncode == 0, r.stderr + r.stdout
    df = pd.read_csv(tmp_path/"anchors.csv")
    assert set(df.method) == {"convirt-tiny"} and ("linear-probe", "acc") in set(zip(df.task, df.metric))
