"""`cxr-graphalign pretrain` with ASG, PLACE and a `+`-joined union on phantoms, end to end on CPU: every preset
trains, logs each of its loss terms, and saves a model that reloads with the same parts."""
import json, os, subprocess, sys

import pytest

ENV = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}


def _pretrain(*args, timeout=540):
    return subprocess.run([sys.executable, "-m", "cxr_graphalign.cli", "pretrain", *map(str, args)], env=ENV,
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
@pytest.mark.parametrize("method, terms", [
    ("asg-tiny", {"soft_global", "arsa", "tag"}),
    ("place-tiny", {"global", "observation", "correlation"}),
    ("cga+place-tiny", {"global", "anatomy", "pathology", "edge", "graph", "observation", "correlation"}),
    ("fl-tiny", {"global", "fl_view", "fl_report", "mlm", "prototype"}),
])
def test_pretrain_method_on_phantoms(tmp_path, method, terms):
    import pandas as pd, torch
    out = tmp_path / "run"
    r = _pretrain("--method", method, "--data", "phantom", "--n-samples", 12, "--valid-pct", 0, "--image-size", 64,
                  "--batch-size", 4, "--epochs", 1, "--lr", "1e-3", "--out", out)
    assert r.returncode == 0, r.stdout + r.stderr
    m = pd.read_csv(out / "metrics.csv")
    assert {f"term/{t}" for t in terms} <= set(m.columns), sorted(m.columns)
    train = m[m["split"] == "train"]
    assert len(train) == 3 and train["loss"].notna().all() and torch.isfinite(torch.tensor(train["loss"].values)).all()
    from cxr_graphalign.models import from_pretrained
    model = from_pretrained(out / "model")
    assert model.config.method == method and set(model.loss.term_fns) == terms
    assert json.loads((out / "config.json").read_text())["method"] == method


@pytest.mark.slow
def test_pretrain_terms_and_schedule(tmp_path):
    out = tmp_path / "run"
    r = _pretrain("--method", "asg-tiny", "--terms", "soft_global=1,anatomy=1,tag=0.5", "--schedule", "anatomy>tag",
                  "--data", "phantom", "--n-samples", 8, "--valid-pct", 0, "--image-size", 64, "--batch-size", 4, "--out", out)
    assert r.returncode == 0, r.stdout + r.stderr
    from cxr_graphalign.models import from_pretrained
    cfg = from_pretrained(out / "model").config
    assert cfg.terms == {"soft_global": 1.0, "anatomy": 1.0, "tag": 0.5} and cfg.graph and cfg.schedule["stages"] == [["anatomy"], ["tag"]]


def test_bad_terms_exit_2_with_one_line(tmp_path):
    for args, msg in [(["--method", "place-tiny", "--terms", "global=1,tags=1"], "unknown loss term(s) tags; known terms: "),
                      (["--method", "asg-tiny", "--terms", "global=1,soft_global=1"], "soft_global replaces global"),
                      (["--method", "convirt-tiny+cga-tiny"], "cannot combine convirt-tiny+cga-tiny: proj_hidden is 64 in convirt-tiny but None in cga-tiny")]:
        r = _pretrain(*args, "--data", "phantom", "--out", tmp_path / "run")
        assert r.returncode == 2 and msg in r.stderr and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr, r.stderr


def test_pretrain_help_lists_every_method_and_loss_term_from_the_registry():
    "`pretrain --help` names what `--method` and `--terms` accept, generated from the registries (nothing hand-listed)."
    import re
    from cxr_graphalign.models import list_methods
    from cxr_graphalign.models.methods import loss_terms
    r = subprocess.run([sys.executable, "-m", "cxr_graphalign.cli", "pretrain", "--help"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    words = set(re.findall(r"[\w+-]+", r.stdout))
    missing = [t for t in loss_terms() if t not in words] + [m for m in list_methods() if not m.endswith("-tiny") and m not in words]
    assert not missing, f"not in pretrain --help: {missing}"
