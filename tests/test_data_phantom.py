"""Phantom radiographs (`cxr_graphalign.data.phantom`): every finding kind lands in its region on the stated side,
negated findings leave no mask, a seed gives the same bytes (also in a fresh process), grey levels stay
radiograph-like, the uncertain rule holds, and `cxr-graphalign phantom` writes a dataset that `read_phantom`
and `read_dataset("phantom", ...)` read back."""
import hashlib, json, subprocess, sys

import numpy as np
import pytest

from cxr_graphalign.data.phantom import (DEVICE_KINDS, FINDING_KINDS, UNCERTAIN_CONTRAST, FindingSpec, PhantomDataset,
                                         load_phantom_masks, mask_box, phantom_reports, read_phantom, render_findings,
                                         render_phantom)
from cxr_graphalign.graph import parse_report
from cxr_graphalign.graph.vocab import ANATOMY_REGIONS

CLI = [sys.executable, "-m", "cxr_graphalign.cli", "phantom"]
SIDED = ["opacity", "consolidation", "effusion", "pneumothorax", "edema", "atelectasis", "scarring", "emphysema", "nodule",
         "mass", "granuloma", "rib_fracture", "low_lung_volumes", "elevated_hemidiaphragm", "chest_tube", "pacemaker", "picc",
         "central_line", "clips", "pleural_thickening", "hilar_enlargement", "interstitial"]
SIDELESS = ["cardiomegaly", "mediastinal_widening", "tortuous_aorta", "aortic_calcification", "et_tube", "enteric_tube", "sternotomy"]
SEEDS = [0, 1, 2]


def test_every_kind_is_tested():
    assert set(SIDED) | set(SIDELESS) == set(FINDING_KINDS)


def _anchor_in(ph, f):
    x, y = (int(round(c)) for c in f.anchor)
    return bool(ph.regions[f.region][y, x])


@pytest.mark.parametrize("kind", SIDED)
@pytest.mark.parametrize("side", ["right", "left"])
def test_sided_finding_lands_in_region_and_side(kind, side):
    "Given only a side, the finding is drawn on that side (image left = patient right) inside its default region."
    for seed in SEEDS:
        spec = FindingSpec(kind, kind, side=side, region=f"{side} lung" if kind == "clips" else None)
        ph = render_findings([spec], 224, seed)
        assert ph.findings, (kind, side, seed, ph.skipped)
        for f in ph.findings:
            assert f.mask.any() and f.region in ANATOMY_REGIONS
            assert _anchor_in(ph, f), (f.key, f.anchor, seed)
            if kind not in DEVICE_KINDS + ("elevated_hemidiaphragm",):   # for pathology the anchor IS the mask centroid
                ys, xs = np.nonzero(f.mask)
                np.testing.assert_allclose(f.anchor, (xs.mean(), ys.mean()), atol=1e-6)
            if kind in ("central_line", "picc"): continue   # their tips lie in the (central) SVC whatever the side
            x = f.anchor[0]
            assert (x < 112) if side == "right" else (x > 112), (kind, side, f.anchor)


ZONES = [f"{s} {z}" for s in ("right", "left") for z in ("upper lung zone", "mid lung zone", "lower lung zone", "apical zone")]

@pytest.mark.parametrize("kind", ["opacity", "consolidation", "nodule", "mass", "granuloma", "atelectasis", "scarring", "rib_fracture", "pneumothorax"])
@pytest.mark.parametrize("region", ZONES)
def test_zonal_finding_centroid_in_named_region(kind, region):
    for seed in SEEDS:
        ph = render_findings([FindingSpec(kind, kind, region=region)], 224, seed)
        assert [f.region for f in ph.findings] == [region], (kind, region, seed, ph.skipped)
        f = ph.findings[0]
        ys, xs = np.nonzero(f.mask)
        assert ph.regions[region][int(round(ys.mean())), int(round(xs.mean()))], (kind, region, seed)


@pytest.mark.parametrize("kind", SIDELESS)
def test_sideless_finding_in_its_region(kind):
    for seed in SEEDS:
        ph = render_findings([FindingSpec(kind, kind)], 224, seed)
        assert len(ph.findings) == 1 and _anchor_in(ph, ph.findings[0]), (kind, seed, ph.skipped)


def test_severity_scales_size():
    areas = {sev: render_findings([FindingSpec("e", "effusion", side="left", severity=sev)], 224, 0).findings[0].mask.sum()
             for sev in (0.5, 1.0, 1.6)}
    assert areas[0.5] < areas[1.0] < areas[1.6], areas
    ctr = {sev: mask_box(render_findings([FindingSpec("c", "cardiomegaly", severity=sev)], 224, 0).regions["cardiac silhouette"])
           for sev in (0.5, 1.6)}
    assert ctr[1.6][2] - ctr[1.6][0] > ctr[0.5][2] - ctr[0.5][0]


def test_parsed_report_side_and_negation():
    g = parse_report("FINDINGS: Small left pleural effusion. No pneumothorax. No focal consolidation. Right upper lobe nodule.")
    ph = render_phantom(g, seed=5)
    kinds = {f.kind: f for f in ph.findings}
    assert set(kinds) == {"effusion", "nodule"}, ph.findings
    assert kinds["effusion"].region == "left lung" and kinds["effusion"].anchor[0] > 112
    assert kinds["nodule"].region == "right upper lung zone" and kinds["nodule"].anchor[0] < 112
    assert not any(k.startswith(("pneumothorax", "consolidation")) for k in ph.masks)
    assert ("pneumothorax", "absent") in ph.skipped


def test_negated_findings_leave_no_mask():
    "Real IU reports: no drawn finding comes from an absent entity; an all-negative report draws nothing."
    ds = PhantomDataset("iu", seed=0)
    for i in range(60):
        g = ds.graph(i)
        absent = {e.id for e in g.entities if e.existence == "absent"}
        for f in ds.phantom(i).findings: assert not set(f.entity_ids) & absent, (i, f.key)
    g = parse_report("FINDINGS: No pleural effusion, pneumothorax or focal consolidation. No cardiomegaly. No pulmonary edema.")
    ph = render_phantom(g, seed=0)
    assert ph.findings == [] and list(ph.masks) == list(ANATOMY_REGIONS)


def test_same_seed_same_bytes_in_a_fresh_process():
    text = "FINDINGS: Moderate right pleural effusion. Left PICC. Possible left lower lobe pneumonia. Mild cardiomegaly."
    code = ("import hashlib, sys; from cxr_graphalign.graph import parse_report; from cxr_graphalign.data.phantom import render_phantom;"
            f"ph = render_phantom(parse_report({text!r}), 224, 7); h = hashlib.sha256(ph.image.tobytes());"
            "[h.update(k.encode() + m.tobytes()) for k, m in ph.masks.items()]; print(h.hexdigest())")
    ph = render_phantom(parse_report(text), 224, 7)
    h = hashlib.sha256(ph.image.tobytes())
    for k, m in ph.masks.items(): h.update(k.encode() + m.tobytes())
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == h.hexdigest()
    assert render_phantom(parse_report(text), 224, 8).image.tobytes() != ph.image.tobytes()


def test_radiograph_like_statistics():
    ds = PhantomDataset("iu", seed=1)
    for i in range(0, 200, 10):
        ph = ds.phantom(i)
        im = ph.image.astype(float)
        assert ph.image.dtype == np.uint8 and ph.image.shape == (224, 224)
        assert 60 < im.mean() < 170 and im.std() > 30, (i, im.mean(), im.std())
        assert (ph.image == 0).mean() < 0.05 and (ph.image == 255).mean() < 0.02
        lungs = im[ph.regions["right lung"] | ph.regions["left lung"]].mean()
        assert lungs + 30 < im[ph.regions["cardiac silhouette"]].mean() and lungs + 30 < im[ph.regions["spine"]].mean()
        assert im[ph.regions["abdomen"]].mean() > lungs + 30


def test_uncertain_rule():
    spec = FindingSpec("pneumonia", "consolidation", region="right lower lung zone", existence="uncertain")
    drawn = [render_findings([spec], 128, s).findings for s in range(60)]
    rate = np.mean([bool(d) for d in drawn])
    assert 0.3 < rate < 0.7, rate
    assert all(d[0].contrast == UNCERTAIN_CONTRAST for d in drawn if d)


def test_sizes_and_dataset_sample():
    ph = render_findings([FindingSpec("e", "effusion", side="right")], 512, 0)
    assert ph.image.shape == (512, 512) and ph.findings[0].mask.shape == (512, 512)
    ds = PhantomDataset(["Large right pleural effusion.", "Normal chest."], size=128, seed=0)
    s = ds[0]
    assert s["image"].shape == (1, 128, 128) and s["region_boxes"].shape == (29, 4) and s["labels"].shape == (14,)
    assert s["text"] == s["graph"].text and "pleural effusion @ right lung" in s["masks"]
    assert not np.isnan(s["region_boxes"].numpy()).any()
    with pytest.raises(IndexError): ds.phantom(5)


def test_report_files(tmp_path):
    (tmp_path/"r.txt").write_text("Left lower lobe consolidation.\n\nSmall right effusion.\n")
    assert [r[1]["findings"] for r in phantom_reports(str(tmp_path/"r.txt"))] == ["Left lower lobe consolidation.", "Small right effusion."]
    (tmp_path/"r.jsonl").write_text(json.dumps({"id": "a", "text": "Cardiomegaly."}) + "\n" + json.dumps({"txt": "x"}) + "\n")
    with pytest.raises(ValueError, match="line 2 has no 'text'"): phantom_reports(str(tmp_path/"r.jsonl"))
    with pytest.raises(FileNotFoundError, match="not 'iu'"): phantom_reports(str(tmp_path/"missing.txt"))
    assert all(int(i.split("-")[1]) % 2 == 1 for i, _ in phantom_reports("iu-odd")[:50])


def test_cli_end_to_end(tmp_path):
    out = tmp_path/"ph"
    r = subprocess.run([*CLI, "--reports", "iu", "--n", "12", "--size", "128", "--seed", "3", "--out", str(out)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert f"wrote 12 phantoms" in r.stdout and str(out) in r.stdout
    assert len(list((out/"images").glob("*.png"))) == 12 and len(list((out/"masks").glob("*.npz"))) == 12
    studies = read_phantom(out)
    from cxr_graphalign.data.core import read_dataset
    assert [s.study_id for s in read_dataset("phantom", out)] == [s.study_id for s in studies]
    from cxr_graphalign.data.splits import phantom_split_of
    published = phantom_split_of([s.patient_id for s in studies])
    assert [s.split for s in studies] == [published[s.patient_id] for s in studies]  # the published phantom split, not a hash of its own
    for s in studies:
        im = s.images[0]
        m = load_phantom_masks(im.mask)
        assert set(ANATOMY_REGIONS) <= set(m) and all(v.shape == (128, 128) for v in m.values())
        for name, box in im.boxes.items(): assert tuple(box) == mask_box(m[name]), name
        for f in s.meta["findings"]: assert f"{f['name']} @ {f['region']}" in m
    # the same command gives the same files
    out2 = tmp_path/"ph2"
    r2 = subprocess.run([*CLI, "--reports", "iu", "--n", "12", "--size", "128", "--seed", "3", "--out", str(out2)],
                        capture_output=True, text=True, timeout=600)
    assert r2.returncode == 0
    for p in sorted((out/"images").glob("*.png")): assert p.read_bytes() == (out2/"images"/p.name).read_bytes(), p.name
    bad = subprocess.run([*CLI, "--n", "2", "--size", "8", "--out", str(tmp_path/"bad")], capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "argument --size: must be an integer in [32, 1024], got 8" in bad.stderr
    missing = subprocess.run([*CLI, "--reports", str(tmp_path/"none.txt"), "--n", "2", "--out", str(tmp_path/"bad2")],
                             capture_output=True, text=True, timeout=300)
    assert missing.returncode != 0 and "not 'iu'" in missing.stderr


@pytest.mark.parametrize("kind", sorted(FINDING_KINDS))
def test_any_named_region_is_drawable(kind):
    "Whatever region a report names, the finding is drawn (in that region or, for lung-wide kinds, that side's lung) and anchored inside it."
    for j, region in enumerate(ANATOMY_REGIONS):
        ph = render_findings([FindingSpec(kind, kind, region=region)], 96, j)
        assert ph.findings, (kind, region, ph.skipped)
        for f in ph.findings: assert _anchor_in(ph, f), (kind, region, f.region)
