"""`cxr-graphalign pretrain` end to end: bad input fails before training, a phantom run writes config, metrics,
checkpoints and a model that loads, and --resume of a finished run changes nothing."""
import json, os, subprocess, sys
from pathlib import Path

import pytest

ENV = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}


def _pretrain(*args, timeout=540):
    return subprocess.run([sys.executable, "-m", "cxr_graphalign.cli", "pretrain", *map(str, args)], env=ENV,
                          capture_output=True, text=True, timeout=timeout)


def test_bad_input_fails_before_training(tmp_path):
    r = _pretrain("--method", "convirt-tiny", "--data", tmp_path / "missing", "--out", tmp_path / "run")
    assert r.returncode == 2 and "no such folder" in r.stderr, r.stderr
    assert not (tmp_path / "run" / "checkpoints").exists()
    r = _pretrain("--method", "convirt-tiny", "--data", "covid-cxr", "--root", tmp_path / "nowhere", "--out", tmp_path / "run")
    assert r.returncode == 2 and "--root" in r.stderr and "does not exist" in r.stderr, r.stderr


@pytest.mark.slow
def test_batch_larger_than_dataset(tmp_path):
    r = _pretrain("--method", "convirt-tiny", "--data", "phantom", "--n-samples", 6, "--valid-pct", 0, "--batch-size", 8,
                  "--image-size", 64, "--out", tmp_path / "run")
    assert r.returncode == 2 and "larger than the 6 training samples" in r.stderr and "--accumulate" in r.stderr, r.stderr


@pytest.mark.slow
def test_phantom_run_writes_everything(tmp_path):
    import torch, pandas as pd
    out = tmp_path / "run"
    args = ["--method", "convirt-tiny", "--data", "phantom", "--n-samples", 20, "--valid-pct", 0.2, "--image-size", 64,
            "--batch-size", 4, "--accumulate", 2, "--epochs", 2, "--checkpoint-every", 1, "--keep", 2, "--seed", 1,
            "--precision", "bf16", "--out", out]
    r = _pretrain(*args)
    assert r.returncode == 0, r.stdout + r.stderr
    for name in ["config.json", "metrics.csv", "model"]: assert str(out / name) in r.stdout, r.stdout
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["method"] == "convirt-tiny" and cfg["n_train"] == 16 and cfg["n_valid"] == 4 and cfg["global_batch_size"] == 8
    m = pd.read_csv(out / "metrics.csv")
    train = m[m["split"] == "train"]
    assert train["step"].tolist() == [1, 2, 3, 4] and (m["split"] == "valid").sum() == 2
    assert {"term/global", "weight/global", "lr", "grad_norm", "stage"} <= set(m.columns)
    assert sorted(p.name for p in (out / "checkpoints").glob("*.pt")) == ["step-00000003.pt", "step-00000004.pt"]
    ck = torch.load(out / "checkpoints" / "step-00000004.pt", weights_only=True)
    assert (ck["step"], ck["epoch"], ck["batch"]) == (4, 2, 0)
    from cxr_graphalign.models import from_pretrained
    model = from_pretrained(out / "model")
    assert torch.equal(model.state_dict()["logit_scale"], ck["model"]["logit_scale"])
    assert all(torch.equal(v, ck["model"][k]) for k, v in model.state_dict().items())

    before = (out / "model" / "model.safetensors").read_bytes()
    r = _pretrain(*args, "--resume")            # a finished run resumes to the same place
    assert r.returncode == 0 and "resuming from" in r.stdout, r.stdout + r.stderr
    assert (out / "model" / "model.safetensors").read_bytes() == before
    i = args.index("--epochs")
    r = _pretrain(*args[:i + 1], 3, *args[i + 2:], "--resume")   # changed --epochs: refused, the setting named
    assert r.returncode == 2 and "epochs was 2, now 3" in r.stderr, r.stderr


def test_hybridmed_tiny_trains_and_generates(tmp_path):
    "HybridMED end to end: pretrain on phantoms logs its five terms, the saved model loads and `evaluate --task generation` scores it."
    import pandas as pd
    out = tmp_path / "run"
    r = _pretrain("--method", "hybridmed-tiny", "--data", "phantom", "--n-samples", 12, "--valid-pct", 0, "--image-size", 64,
                  "--batch-size", 4, "--epochs", 1, "--seed", 0, "--out", out)
    assert r.returncode == 0, r.stdout + r.stderr
    m = pd.read_csv(out / "metrics.csv")
    terms = ["term/impression_global", "term/findings_local", "term/caption", "term/summary", "term/distill"]
    assert set(terms) <= set(m.columns) and m[terms].notna().all().all() and len(m[m["split"] == "train"]) == 3
    from cxr_graphalign.models import from_pretrained
    model = from_pretrained(out / "model")
    assert "hybridmed" in model.parts and model.config.parts["hybridmed"]["vocab_size"] == len(model.text_encoder.tokenizer)
    r = subprocess.run([sys.executable, "-m", "cxr_graphalign.cli", "evaluate", *map(str, ["--checkpoint", out / "model", "--task", "generation", "--limit", 4,
                        "--image-size", 64, "--beam-size", 1, "--results", tmp_path / "r.csv"])], env=ENV, capture_output=True, text=True, timeout=540)
    assert r.returncode == 0, r.stdout + r.stderr
    assert {"bleu4", "rougeL", "ce_f1"} <= set(pd.read_csv(tmp_path / "r.csv").metric) and "hybridmed-tiny" in r.stdout
