"End-to-end tests of `cxr-graphalign evaluate` at tiny size (real covid-cxr images where available, phantoms otherwise)."
import subprocess, sys
from pathlib import Path
import pandas as pd
import pytest
from cxr_graphalign.core import shared_data_dir

COVID = shared_data_dir("covid-cxr")
needs_covid = pytest.mark.skipif(COVID is None, reason="../shared/data/covid-cxr not found")

def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "cxr_graphalign.cli", "evaluate", *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=900)

@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    "A saved cga-tiny model (random weights) in the save_pretrained format."
    import torch
    from cxr_graphalign.models import create_model
    torch.manual_seed(0)
    return create_model("cga-tiny").save_pretrained(tmp_path_factory.mktemp("ckpt")/"model")

@needs_covid
def test_linear_probe_from_checkpoint(checkpoint, tmp_path):
    csv = tmp_path/"results.csv"
    r = run_cli("--checkpoint", checkpoint, "--task", "linear-probe", "--fraction", 0.1, "--limit", 60, "--image-size", 64,
                "--seeds", 0, 1, "--root", COVID, "--results", csv, "--figure", tmp_path/"fig.html")
    assert r.returncode == 0, r.stderr + r.stdout
    df = pd.read_csv(csv)
    assert set(df.metric) == {"acc", "auc"} and set(df.method) == {"cga-tiny"} and (df.n_seeds == 2).all()
    assert df["mean"].between(0, 1).all()
    assert "| method | linear-probe covid-cxr" in r.stdout and (tmp_path/"fig.html").stat().st_size > 1000
    # a second run appends; the table keeps one row per method
    r2 = run_cli("--checkpoint", "random:cga-tiny", "--task", "linear-probe", "--fraction", 0.1, "--limit", 60, "--image-size", 64,
                 "--seeds", 0, "--root", COVID, "--results", csv)
    assert r2.returncode == 0, r2.stderr + r2.stdout
    assert len(pd.read_csv(csv)) == 4 and "random (cga-tiny)" in r2.stdout and "| cga-tiny |" in r2.stdout

@needs_covid
def test_segmentation_and_detection_tiny(checkpoint, tmp_path):
    csv = tmp_path/"r.csv"
    for task, metric in (("segmentation", "dice"), ("detection", "map")):
        r = run_cli("--checkpoint", checkpoint, "--task", task, "--fraction", 1.0, "--limit", 40, "--image-size", 64, "--epochs", 1,
                    "--seeds", 0, "--root", COVID, "--results", csv)
        assert r.returncode == 0, r.stderr + r.stdout
        assert metric in set(pd.read_csv(csv).metric)

def test_grounding_on_phantoms(checkpoint, tmp_path):
    csv = tmp_path/"r.csv"
    r = run_cli("--checkpoint", checkpoint, "--task", "grounding", "--data", "phantom", "--limit", 8, "--image-size", 64, "--results", csv)
    assert r.returncode == 0, r.stderr + r.stdout
    df = pd.read_csv(csv)
    assert {"node_pointing", "sentence_pointing", "node_iou"} <= set(df.metric) and (df.fraction == 0).all()
    assert "zero-shot" in r.stdout

@needs_covid
def test_too_small_limit_is_explained(tmp_path):
    r = run_cli("--checkpoint", "random:convirt-tiny", "--task", "segmentation", "--limit", 2, "--image-size", 64, "--root", COVID,
                "--results", tmp_path/"r.csv")
    assert r.returncode == 2 and "use a larger limit" in _error_line(r)

def _error_line(r) -> str:
    "The one error line on stderr, prefixed like every subcommand's (nothing on stdout)."
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cxr-graphalign evaluate: error: ") and not r.stdout.strip(), (r.stdout, r.stderr)
    return lines[0]

def test_errors_name_the_problem(tmp_path):
    r = run_cli("--checkpoint", tmp_path/"nothing", "--task", "zeroshot", "--results", tmp_path/"r.csv")
    assert r.returncode == 2 and "no saved model" in _error_line(r)
    r = run_cli("--checkpoint", "random:convirt-tiny", "--results", tmp_path/"r.csv")
    assert r.returncode == 2 and "exactly one of --task" in _error_line(r)
    r = run_cli("--checkpoint", "random:convirt-tiny", "--task", "grounding", "--data", "covid-cxr", "--results", tmp_path/"r.csv")
    assert r.returncode == 2 and "runs on" in r.stderr and "nothing ran" in r.stderr.strip().splitlines()[-1]
    assert not (tmp_path/"r.csv").exists()

def test_generation_on_phantoms(tmp_path):
    csv = tmp_path/"r.csv"
    r = run_cli("--checkpoint", "random:hybridmed-tiny", "--task", "generation", "--limit", 6, "--image-size", 64, "--beam-size", 2, "--results", csv)
    assert r.returncode == 0, r.stderr + r.stdout
    df = pd.read_csv(csv)
    assert {"bleu1", "bleu4", "rougeL", "ce_f1", "shuffled_rougeL", "frequent_ce_f1"} <= set(df.metric) and (df.fraction == 0).all()
    assert df.loc[df.metric != "n_studies", "mean"].between(0, 1).all()
    # a model without a decoder: one line naming the reason, exit 2
    r2 = run_cli("--checkpoint", "random:convirt-tiny", "--task", "generation", "--limit", 4, "--image-size", 64, "--results", csv)
    assert r2.returncode == 2 and "no generation decoder" in _error_line(r2)
