"""A hypothesis fuzz test of the command line: start from a cheap valid command of each subcommand, replace or add
options with random values (numbers at and past their ranges, NaN, words, empty strings, paths to a folder, a plain
file, an empty file, random bytes, a missing path) and write random bytes into the files it reads. Whatever comes in,
the command must end with exit code 0 or 2 (1 only for `prepare --verify` finding a problem), never a traceback nor an
'internal error', and must write nothing outside its --out folder (or evaluate's --results) and the toolkit's home.
Runs in this process; examples are bounded per subcommand to keep CI short."""
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from clitools import cli, covid_fixture, tree

NUMBERS = ["0", "-1", "1", "2", "3", "16", "31", "32", "33", "64", "4097", "1e3", "0.5", "1.0", "-0.0", "nan", "inf", "-inf",
           str(2**31), str(2**64), "1_0", " 7", "", "abc", "0x10", "１２"]
SHAPES = [b"", b"\xff\xfe\x00\x00", bytes.fromhex("89504e470d0a1a0a0000000d49484452"), "Lésion pleurale".encode("latin-1"),
          b"patientid,finding\n", b"\xef\xbb\xbfNo acute disease.\n", b"{}", b"\n" * 50]   # files that are almost right
PATH_KINDS = ["folder", "file", "empty", "junk", "missing", "nested-missing", "under-file", "dataset"]
FLAGS = {
    "graph": ["--file", "-f", "--format", "-f"],
    "prepare": ["--root", "--out", "--size", "--chunk-size", "--workers", "--seed", "--splits", "--verify", "--skip-missing", "--no-graph"],
    "phantom": ["--reports", "--n", "--size", "--out", "--seed", "--workers", "--views", "--lateral-share"],
    "pretrain": ["--method", "--data", "--root", "--epochs", "--batch-size", "--out", "--accumulate", "--precision", "--seed",
                 "--max-steps", "--lr", "--wd", "--warmup", "--clip", "--checkpoint-every", "--keep", "--valid-pct", "--image-size",
                 "--n-samples", "--log-every", "--resume", "--overwrite", "--device"],
    "evaluate": ["--checkpoint", "--task", "--fraction", "--data", "--root", "--splits", "--seeds", "--image-size", "--limit", "--epochs",
                 "--results", "--name"],
    "demo": ["--out", "--data", "--root", "--device", "--epochs", "--seed", "--quick"],
}


def base(cmd, ws):
    "A cheap command that succeeds: the starting point of the mutations."
    return {
        "graph": ["graph", "--file", "-", "--format", "json"],   # the report comes from stdin: random bytes
        "prepare": ["prepare", "covid-cxr", "--root", ws/"root", "--out", ws/"out", "--size", "32", "--chunk-size", "2", "--workers", "0", "--quiet", "--no-graph"],
        "phantom": ["phantom", "--out", ws/"out", "--n", "2", "--size", "32", "--workers", "0", "--reports", ws/"reports.txt"],
        "pretrain": ["pretrain", "--method", "convirt-tiny", "--data", "phantom", "--n-samples", "8", "--valid-pct", "0", "--image-size", "32",
                     "--batch-size", "4", "--max-steps", "2", "--out", ws/"out", "--quiet"],
        "evaluate": ["evaluate", "--checkpoint", "random:convirt-tiny", "--task", "retrieval", "--data", "phantom", "--limit", "4",
                     "--image-size", "32", "--seeds", "0", "--results", ws/"out"/"r.csv"],
        "demo": ["demo", "--out", ws/"out", "--quick"],
    }[cmd]


def make_path(kind, ws, junk: bytes):
    p = {"folder": ws/"somefolder", "file": ws/"plain.txt", "empty": ws/"empty.bin", "junk": ws/"junk.bin", "missing": ws/"missing",
         "nested-missing": ws/"a"/"b"/"c", "under-file": ws/"plain.txt"/"x", "dataset": ws/"root"}[kind]
    if kind == "junk": p.write_bytes(junk)
    return p


@st.composite
def mutated(draw, cmd, ws):
    argv = [str(a) for a in base(cmd, ws)]
    junk = draw(st.one_of(st.binary(max_size=300), st.sampled_from(SHAPES)))
    for _ in range(draw(st.integers(1, 3))):
        flag = draw(st.sampled_from(FLAGS[cmd]))
        value = draw(st.one_of(st.sampled_from(NUMBERS), st.sampled_from(PATH_KINDS).map(lambda k: str(make_path(k, ws, junk))),
                               st.text(max_size=12), st.sampled_from(["phantom", "covid-cxr", "cga-tiny", "random:nope", "-", "json"])))
        if flag in argv:
            i = argv.index(flag)
            if i + 1 < len(argv) and not argv[i + 1].startswith("--"): argv[i + 1] = value
            else: argv.insert(i + 1, value)
        else: argv += [flag, value]
    if draw(st.booleans()):   # damage one of the files the command reads
        target = draw(st.sampled_from([ws/"root"/"metadata.csv", ws/"root"/"images"/"i1.png", ws/"reports.txt"]))
        target.write_bytes(junk)
    return argv, junk


def workspace(root: Path) -> Path:
    ws = root/"ws"
    covid_fixture(ws/"root", n=3)
    (ws/"somefolder").mkdir(); (ws/"plain.txt").write_text("just text"); (ws/"empty.bin").write_bytes(b"")
    (ws/"reports.txt").write_text("Heart size is normal. Small left pleural effusion.\nNo acute disease.\n")
    return ws


def check(cmd, argv, tmp_path, monkeypatch, stdin=b""):
    import shutil
    ws = Path(argv[0]); argv = argv[1:]
    home = tmp_path/"home"; monkeypatch.setenv("CXR_GRAPHALIGN_HOME", str(home))
    cwd = ws/"somefolder" if (ws/"somefolder").is_dir() else ws
    outs = [ws/"out"] + [cwd/argv[i + 1] for i, a in enumerate(argv[:-1]) if a in ("--out", "--results", "--figure")]  # its outputs
    before = tree(ws, skip=outs)
    r = cli(*argv, cwd=cwd, stdin=stdin)
    assert r.crashed is None, f"{argv}: traceback {r.crashed!r}"
    text = r.err + r.out
    assert "Traceback" not in text and "internal error" not in text, (argv, r)
    ok_rc = {0, 2} | ({1} if ("--verify" in argv or "nothing ran" in text) else set())
    assert r.rc in ok_rc, (argv, r)
    if r.rc == 2: assert any(l.startswith(("cxr-graphalign", "evaluate:")) for l in r.lines), (argv, r)   # a message, not silence
    after = tree(ws, skip=outs)
    assert {k for k in after if k not in before or after[k] != before[k]} <= set(), (argv, sorted(set(after) ^ set(before)))


def fuzz(cmd, n):
    @settings(max_examples=n, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(data=st.data())
    def test(tmp_path_factory, monkeypatch, data):
        root = tmp_path_factory.mktemp(cmd)
        ws = workspace(root)
        argv, junk = data.draw(mutated(cmd, ws))
        check(cmd, [str(ws), *argv], root, monkeypatch, stdin=junk)   # `--file -` reads the random bytes from stdin
    return test


@pytest.fixture
def no_demo_run(monkeypatch):
    "The demo's argument handling is fuzzed; its minutes-long run itself is replaced by a recorder."
    import cxr_graphalign.demo as demo
    calls = []
    def fake(out, **kw):
        calls.append(kw); Path(out).mkdir(parents=True, exist_ok=True); (Path(out)/"index.html").write_text("ok"); return Path(out)/"index.html"
    monkeypatch.setattr(demo, "run_demo", fake)
    return calls

test_fuzz_graph = fuzz("graph", 40)
test_fuzz_prepare = fuzz("prepare", 30)
test_fuzz_phantom = fuzz("phantom", 15)
_demo = fuzz("demo", 30)
def test_fuzz_demo(tmp_path_factory, monkeypatch, no_demo_run): _demo(tmp_path_factory, monkeypatch)
test_fuzz_pretrain = pytest.mark.slow(fuzz("pretrain", 15))
test_fuzz_evaluate = pytest.mark.slow(fuzz("evaluate", 20))
