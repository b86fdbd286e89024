"""Same seed, same result across processes: the default report vocabulary is packaged (never retrained), racing
processes agree on a vocabulary they train, two `pretrain` runs in fresh home folders save identical weights, and two
`demo --quick` runs write identical results.json. Also: SIGTERM stops the whole demo with exit 130 and no page."""
import hashlib, os, signal, subprocess, sys, time
from pathlib import Path

import pytest

ENV = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}
CLI = [sys.executable, "-m", "cxr_graphalign.cli"]


def _env(home: Path) -> dict:
    "The environment of a process with its own, empty, home folder (a fresh machine, CI, a container)."
    home.mkdir(parents=True, exist_ok=True)
    return {**ENV, "CXR_GRAPHALIGN_HOME": str(home)}


def _sha(path: Path) -> str: return hashlib.sha256(path.read_bytes()).hexdigest()


def test_default_vocabulary_is_packaged_not_trained(tmp_path):
    "A scratch text encoder in a fresh home trains nothing: its vocabulary is the packaged file, id = line."
    import json
    from importlib.resources import files
    code = ("import json\nfrom cxr_graphalign.models.encoders import TextEncoder\n"
            "te = TextEncoder('scratch', hidden_size=32, num_layers=1, num_heads=2)\n"
            "print(json.dumps(te.tokenizer.get_vocab()))\n")
    r = subprocess.run([sys.executable, "-c", code], env=_env(tmp_path / "home"), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert not (tmp_path / "home" / "tokenizers").exists(), "the default tokenizer was trained and cached instead of loaded"
    packaged = (files("cxr_graphalign") / "assets" / "iu-even-wordpiece-4096.txt").read_text(encoding="utf-8").rstrip("\n").split("\n")
    assert json.loads(r.stdout.strip().splitlines()[-1]) == {p: i for i, p in enumerate(packaged)}


_RACER = """
import hashlib, json, sys, time
from pathlib import Path
from cxr_graphalign.models.encoders import report_tokenizer, iu_report_texts
texts = iu_report_texts("even")
go = Path(sys.argv[1])
Path(sys.argv[2]).touch()   # at the barrier, imports done
while not go.exists(): time.sleep(0.01)
tok = report_tokenizer(vocab_size=1500)
print(hashlib.sha256(json.dumps(sorted(tok.get_vocab().items())).encode()).hexdigest())
"""

def test_racing_processes_agree_on_a_trained_vocabulary(tmp_path):
    "Two processes train the same non-default vocabulary into one empty cache at once; both end up with one vocabulary."
    go, env = tmp_path / "go", _env(tmp_path / "home")
    procs = [subprocess.Popen([sys.executable, "-c", _RACER, str(go), str(tmp_path / f"ready{k}")], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for k in range(2)]
    t0 = time.time()
    while not all((tmp_path / f"ready{k}").exists() for k in range(2)):
        assert all(p.poll() is None for p in procs) and time.time() - t0 < 600, [p.communicate()[1][-2000:] for p in procs]
        time.sleep(0.05)
    go.touch()   # both start training at the same moment
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (o, e) in zip(procs, outs): assert p.returncode == 0, e[-3000:]
    hashes = [o.strip().splitlines()[-1] for o, _ in outs]
    assert hashes[0] == hashes[1], "racing processes kept different vocabularies"
    assert [p.name for p in (tmp_path / "home" / "tokenizers").iterdir()] == ["iu-even-wordpiece-1500"], "a temporary folder was left behind"


@pytest.mark.slow
def test_pretrain_in_two_fresh_homes_saves_identical_weights(tmp_path):
    "The same short CGA run in two processes, each with its own empty home folder: bit-identical saved weights."
    args = ["pretrain", "--method", "cga-tiny", "--data", "phantom", "--n-samples", 16, "--valid-pct", 0, "--image-size", 64,
            "--batch-size", 4, "--epochs", 1, "--seed", 3, "--quiet"]
    procs = [subprocess.Popen([*CLI, *map(str, args), "--out", str(tmp_path / f"run{k}")], env=_env(tmp_path / f"home{k}"),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for k in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=900)
        assert p.returncode == 0, err[-3000:]
    a, b = (_sha(tmp_path / f"run{k}" / "model" / "model.safetensors") for k in range(2))
    assert a == b, "two processes with the same seed saved different weights"


@pytest.mark.slow
def test_two_demo_quick_runs_write_identical_results(tmp_path):
    "Two `demo --quick` processes (own home folders) write byte-identical results.json."
    procs = [subprocess.Popen([*CLI, "demo", "--quick", "--out", str(tmp_path / f"demo{k}")], env=_env(tmp_path / f"home{k}"),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for k in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=1500)
        assert p.returncode == 0, err[-3000:]
    a, b = ((tmp_path / f"demo{k}" / "results.json").read_text() for k in range(2))
    assert a == b, "two demo runs with the same seed wrote different results"


def _demo_until(tmp_path: Path, ready) -> tuple[subprocess.Popen, Path]:
    "Start `demo --quick` and wait until `ready(out)`; the process and its output folder."
    out = tmp_path / "demo"
    p = subprocess.Popen([*CLI, "demo", "--quick", "--out", str(out)], env=_env(tmp_path / "home"),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    t0 = time.time()
    while not ready(out):
        assert p.poll() is None, p.communicate()[1][-3000:]
        assert time.time() - t0 < 900, "the demo never reached the stage to interrupt"
        time.sleep(0.2)
    return p, out


@pytest.mark.slow
@pytest.mark.parametrize("stage", ["parse", "pretrain"])
def test_sigterm_stops_the_whole_demo(tmp_path, stage):
    "SIGTERM while parsing reports or while pretraining the first method: exit 130, no page and no results written."
    ready = (lambda out: out.exists()) if stage == "parse" else (lambda out: (out / "convirt-tiny" / "seed0" / "metrics.csv").exists())  # in fit (the demo runs compare: one folder per seed)
    p, out = _demo_until(tmp_path, ready)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=600)
    assert p.returncode == 130, (p.returncode, err[-3000:])
    assert "interrupted" in err and "no page" in err, err[-2000:]
    assert not (out / "index.html").exists() and not (out / "results.json").exists()
    assert not (out / "cga-tiny").exists(), "the demo went on to the next method"
    if stage == "pretrain": assert list((out / "convirt-tiny" / "seed0" / "checkpoints").glob("step-*.pt")), "the stopped stage wrote no checkpoint"


def test_a_signal_whose_interrupt_was_swallowed_still_stops_the_demo(tmp_path, monkeypatch):
    """CI once saw `demo --quick` run to the end after a SIGTERM sent while it parsed reports (exit 0, page written):
    a KeyboardInterrupt raised while Python runs a finalizer or a weakref callback is printed and dropped. The handler
    notes the signal, and every stage boundary stops the demo on that note, so no later stage runs."""
    import gc
    from cxr_graphalign import demo, compare

    class Finalized:   # the interrupt lands inside a finalizer, which swallows it ("Exception ignored in ...")
        def __del__(self): demo._raise_interrupt(signal.SIGTERM, None)

    def parse_stage():
        Finalized(); gc.collect()   # the signal arrives, its KeyboardInterrupt is dropped, parsing goes on
        return {"n_reports": 0, "reports_per_s": 0.0, "parser": {"macro_f1": 0.0, "per_label": {}}}

    def run_compare(*a, **k): raise AssertionError("the demo went on to pretraining after a SIGTERM")
    monkeypatch.setattr(demo, "parse_stage", parse_stage)
    monkeypatch.setattr(compare, "run_compare", run_compare)
    monkeypatch.setattr(demo, "_SIGNALS_SEEN", [])
    with pytest.raises(KeyboardInterrupt, match="SIGTERM"):
        demo.run_demo(tmp_path / "demo", config=demo.DemoConfig.quick(), device="cpu")
    assert not (tmp_path / "demo" / "results.json").exists() and not (tmp_path / "demo" / "index.html").exists()
