"""F-L end to end: the method declares the lateral view, so the trainer's phantom data gives it lateral films; one
training step on mixed one- and two-view studies trains every F-L term; two `pretrain --method fl-tiny` processes with
the same seed save bit-identical weights."""
import hashlib, os, subprocess, sys
from pathlib import Path

import torch

ENV = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}


def test_fl_step_on_mixed_one_and_two_view_phantoms():
    from cxr_graphalign.data.lateral import MultiViewPhantomDataset
    from cxr_graphalign.models import create_model
    from cxr_graphalign.train import model_views
    torch.manual_seed(0)
    model = create_model("fl-tiny", image__img_size=64)
    assert model_views(model) == ("frontal", "lateral")
    ds = MultiViewPhantomDataset("iu", size=64, seed=0, masks=False, lateral_share=0.5)
    samples = [ds[i] for i in range(8)]
    has = ["lateral" in s for s in samples]
    assert any(has) and not all(has), has
    batch = model.collate(samples)
    assert batch["lateral_mask"].tolist() == has
    loss = model.loss(model(batch))
    loss.backward()
    terms = model.loss.terms
    assert set(terms) == {"global", "fl_view", "fl_report", "mlm", "prototype"} and all(v.isfinite() for v in terms.values()), terms
    assert terms["fl_view"] > 0, "the two-view studies were not aligned"
    part = model.parts["frontal_lateral"]
    assert part.lateral_head.weight.grad.abs().sum() > 0 and part.queries.grad[1].abs().sum() > 0, "no gradient reached the lateral-specific head and queries"


def _pretrain(out: Path, home: Path) -> str:
    home.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "cxr_graphalign.cli", "pretrain", "--method", "fl-tiny", "--data", "phantom", "--n-samples", "8",
           "--valid-pct", "0", "--image-size", "32", "--batch-size", "4", "--max-steps", "2", "--seed", "3", "--out", str(out), "--quiet"]
    r = subprocess.run(cmd, env={**ENV, "CXR_GRAPHALIGN_HOME": str(home)}, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    return hashlib.sha256((out / "model" / "model.safetensors").read_bytes()).hexdigest()


def test_fl_pretrain_same_seed_same_weights(tmp_path):
    assert _pretrain(tmp_path / "a", tmp_path / "home-a") == _pretrain(tmp_path / "b", tmp_path / "home-b")
