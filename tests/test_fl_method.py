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


def _masked_pass_rows(model, batch) -> list[int]:
    "Batch sizes of the text tower's passes during one forward (the first is the plain report pass)."
    sizes, enc = [], model.text_encoder.model
    h = enc.register_forward_pre_hook(lambda m, a, kw: sizes.append(len((a[0] if a else kw["input_ids"]))), with_kwargs=True)
    try: model(batch)
    finally: h.remove()
    return sizes


def test_the_masked_text_pass_skips_reports_without_key_tokens_and_the_share_subsamples():
    """The MLM's second text pass is F-L's main extra cost over ConVIRT: it runs only on reports that have pathology
    tokens to predict (the loss is unchanged: the others have no masked token), and `share` < 1 runs it on that share."""
    from cxr_graphalign.data.lateral import MultiViewPhantomDataset
    from cxr_graphalign.models import create_model
    torch.manual_seed(0)
    model = create_model("fl-tiny", image__img_size=32).eval()
    ds = MultiViewPhantomDataset("iu", size=32, seed=0, masks=False, lateral_share=0.5)
    samples = [ds[i] for i in range(8)]
    samples[1] = {**samples[1], "text": "PA and lateral views of the chest were obtained.", "graph": None}   # no finding: no key token
    batch = model.collate(samples)
    keyed = batch["mlm_mask"].any(1)
    assert not keyed[1] and keyed.sum() >= 5, keyed
    sizes = _masked_pass_rows(model, batch)
    assert sizes == [8, int(keyed.sum())], sizes   # the plain pass on all 8, the masked pass on the keyed reports only
    with torch.no_grad():
        out = model(batch)
        every = {**batch, "mlm_rows": torch.arange(8)}   # the old way: every report through the masked pass
        ref = model(every)
    torch.testing.assert_close(out["mlm_logits"], ref["mlm_logits"], rtol=1e-4, atol=1e-5)
    assert torch.equal(out["mlm_labels"], ref["mlm_labels"])

    torch.manual_seed(1)
    half = create_model("fl-tiny", image__img_size=32, parts={"frontal_lateral": {}, "key_mlm": {"share": 0.5}}).eval()
    hb = half.collate(samples)
    rows = hb["mlm_rows"].tolist()
    assert len(rows) == round(0.5 * int(keyed.sum())) and set(rows) <= set(keyed.nonzero().squeeze(1).tolist()), rows
    assert hb["mlm_mask"].any(1).nonzero().squeeze(1).tolist() == rows, "tokens were masked in reports outside the sampled share"
    assert _masked_pass_rows(half, hb) == [8, len(rows)]
