"""Bad input, as a careful user would try it, at every subcommand: each must end in one line that names the flag,
field or file (exit code 2, no traceback). Runs in this process (no torch import per case), so it is quick.
Issue 19's list: a numeric option out of range, an --out that is a file or inside the dataset, an empty CSV, a folder
given as a report, a binary or non-UTF-8 report, an unknown `random:` method, an existing run without --resume, ..."""
import json
from pathlib import Path

import pytest

from clitools import cli, covid_fixture

PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010800000000")


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    "A workspace: a tiny dataset, an empty CSV dataset, a plain file, a PNG and a finished pretrain run folder."
    d = tmp_path_factory.mktemp("inputs")
    covid_fixture(d/"root")
    (d/"empty").mkdir(); (d/"empty"/"metadata.csv").write_text("")
    (d/"afile").write_text("not a folder")
    (d/"image.png").write_bytes(PNG)
    (d/"latin1.txt").write_bytes("Épanchement pleural gauche. No pneumothorax.".encode("latin-1"))
    run = d/"run"; (run/"checkpoints").mkdir(parents=True); (run/"checkpoints"/"step-00000001.pt").write_bytes(b"x")
    (run/"config.json").write_text(json.dumps({"method": "convirt-tiny"})); (run/"metrics.csv").write_text("step\n1\n")
    return d


# (subcommand arguments with {ws} for the workspace, what the one line must contain)
CASES = [
    ("prepare covid-cxr --root {ws}/root --out {ws}/o1 --size 0", "argument --size: must be an integer in [16, 4096], got 0"),
    ("prepare covid-cxr --root {ws}/root --out {ws}/o1 --size -64", "argument --size"),
    ("prepare covid-cxr --root {ws}/root --out {ws}/o1 --chunk-size 0", "argument --chunk-size"),
    ("prepare covid-cxr --root {ws}/root --out {ws}/o1 --workers -1", "argument --workers"),
    ("prepare covid-cxr --root {ws}/root --out {ws}/afile", "argument --out: {ws}/afile is a file"),
    ("prepare covid-cxr --root {ws}/root --out {ws}/root", "--out {ws}/root is inside the dataset folder"),
    ("prepare covid-cxr --root {ws}/root --out {ws}/root/cache", "is inside the dataset folder"),
    ("prepare covid-cxr --root {ws}/empty --out {ws}/o2", "{ws}/empty/metadata.csv: cannot be read as CSV"),
    ("prepare covid-cxr --root {ws}/nowhere --out {ws}/o3", "argument --root: folder {ws}/nowhere does not exist"),
    ("prepare covid-cxr --root {ws}/afile --out {ws}/o3", "argument --root: {ws}/afile is a file"),
    ("prepare covid-cxr --out {ws}/o3", "pass --root"),
    ("pretrain --data phantom --out {ws}/p1 --image-size 0", "argument --image-size"),
    ("pretrain --data phantom --out {ws}/p1 --batch-size 0", "argument --batch-size"),
    ("pretrain --data phantom --out {ws}/p1 --epochs -1", "argument --epochs"),
    ("pretrain --data phantom --out {ws}/p1 --lr nan", "argument --lr"),
    ("pretrain --data phantom --out {ws}/p1 --lr 0", "argument --lr"),
    ("pretrain --data phantom --out {ws}/p1 --valid-pct 1", "argument --valid-pct"),
    ("pretrain --data phantom --out {ws}/p1 --warmup -0.1", "argument --warmup"),
    ("pretrain --data phantom --out {ws}/p1 --keep 0", "argument --keep"),
    ("pretrain --data phantom --out {ws}/p1 --checkpoint-every 0", "argument --checkpoint-every"),
    ("pretrain --data phantom --out {ws}/p1 --accumulate 0", "argument --accumulate"),
    ("pretrain --data phantom --out {ws}/p1 --max-steps 0", "argument --max-steps"),
    ("pretrain --data phantom --out {ws}/p1 --seed -1", "argument --seed"),
    ("pretrain --data phantom --out {ws}/p1 --device gpu", "argument --device"),
    ("pretrain --data phantom --out {ws}/afile", "argument --out: {ws}/afile is a file"),
    ("pretrain --data phantom --method convirt-tiny --out {ws}/run", "already holds a run"),
    ("pretrain --data phantom --method convirt-tiny --out {ws}/run --resume --overwrite", "pass one of them"),
    ("pretrain --data {ws}/root --method convirt-tiny --out {ws}/p2", "is not a prepared cache"),
    ("pretrain --data covid-cxr --root {ws}/nowhere --method convirt-tiny --out {ws}/p2", "argument --root: folder"),
    ("pretrain --data phantom --method no-such-method --out {ws}/p3", "unknown method 'no-such-method'"),
    ("evaluate --checkpoint random:convirt-tiny --task zeroshot --limit 0 --results {ws}/r.csv", "argument --limit"),
    ("evaluate --checkpoint random:convirt-tiny --task linear-probe --fraction 0 --results {ws}/r.csv", "argument --fraction"),
    ("evaluate --checkpoint random:convirt-tiny --task zeroshot --image-size 0 --results {ws}/r.csv", "argument --image-size"),
    ("evaluate --checkpoint random:convirt-tiny --task zeroshot --seeds 0 -3 --results {ws}/r.csv", "argument --seeds"),
    ("evaluate --checkpoint random:convirt-tiny --task zeroshot --results {ws}/root", "argument --results: {ws}/root is a folder"),
    ("evaluate --checkpoint random:no-such --task zeroshot --results {ws}/r.csv", "random:no-such: unknown method"),
    ("evaluate --checkpoint {ws}/afile --task zeroshot --results {ws}/r.csv", "no saved model"),
    ("graph -f {ws}", "is a folder"),
    ("graph -f {ws}/image.png", "{ws}/image.png is a binary file"),
    ("graph -f {ws}/latin1.txt", "{ws}/latin1.txt is not UTF-8 text (byte 0xc9 at offset 0)"),
    ("graph -f {ws}/missing.txt", "no such file"),
    ("graph --format xml x", "argument --format"),
    ("phantom --out {ws}/ph --size 0", "argument --size"),
    ("phantom --out {ws}/ph --n 0", "argument --n"),
    ("phantom --out {ws}/afile", "argument --out"),
    ("demo --out {ws}/d --epochs 0", "argument --epochs"),
    ("demo --out {ws}/d --device gpu", "argument --device"),
    ("demo --out {ws}/afile", "argument --out"),
    ("demo --out {ws}/d --data covid-cxr --root {ws}/nowhere", "argument --root"),
]


@pytest.mark.parametrize("args,expect", CASES, ids=[c[0].split(" --out")[0][:60] for c in CASES])
def test_bad_input_is_one_clear_line(ws, args, expect):
    r = cli(*args.format(ws=ws).split())
    assert r.crashed is None, f"traceback: {r.crashed!r}"
    assert r.rc == 2, r
    assert len(r.lines) == 1, r                       # one line, no usage block, no traceback
    assert expect.format(ws=ws) in r.lines[0], r


def test_non_utf8_stdin(ws):
    r = cli("graph", "-f", "-", stdin="Lésion\n".encode("latin-1"))
    assert r.crashed is None and r.rc == 2 and r.lines == ["cxr-graphalign graph: error: stdin is not UTF-8 text (byte 0xe9 at offset 1); "
                                                           "convert it first, e.g. `iconv -f latin1 -t utf-8`"], r


def test_debug_shows_the_traceback(ws):
    r = cli("--debug", "prepare", "covid-cxr", "--root", ws/"empty", "--out", ws/"o9")
    assert r.crashed is not None and "cannot be read as CSV" in str(r.crashed)


def test_punctuation_only_report_is_like_an_empty_one():
    import math
    from cxr_graphalign.graph.parse import parse_report
    for text in ("", "   ", "...", "- ; :", "?!"):
        labels = parse_report(text).labels()
        assert all(math.isnan(v) for v in labels.values()), (text, labels)
    assert parse_report("No acute disease.").labels()["No Finding"] == 1.0


def test_zero_byte_and_non_image_files_are_stored_black(tmp_path):
    "The shared covid-cxr layout (images512/ + metadata_frontal_notes.csv) with an empty and a non-image file."
    from clitools import subset_fixture
    root = subset_fixture(tmp_path/"root", bad={0: b"", 1: b"hello, not an image"})
    r = cli("prepare", "covid-cxr", "--root", root, "--out", tmp_path/"out", "--size", 32, "--workers", 0, "--quiet", "--no-graph")
    assert r.crashed is None and r.rc == 0, r
    assert "3 images (1 ok, 2 corrupt, 0 missing skipped)" in r.out, r


def test_cache_key_does_not_depend_on_how_root_is_spelled(tmp_path):
    root = covid_fixture(tmp_path/"data"/"root")
    args = ["covid-cxr", "--out", tmp_path/"cache", "--size", 32, "--workers", 0, "--quiet", "--no-graph"]
    r = cli("prepare", *args, "--root", "data/root", cwd=tmp_path)
    assert r.rc == 0, r
    r = cli("prepare", *args, "--root", (tmp_path/"data"/"root").resolve())
    assert r.rc == 0 and "0 chunks built, 1 reused" in r.out, r
    r = cli("prepare", *args[:-4], "--size", 64, "--quiet", "--no-graph", "--root", tmp_path/"data"/"root")
    assert r.rc == 2 and "holds a cache of different data or settings" in r.err and "delete" not in r.err, r


def test_evaluate_accepts_a_pretrain_run_folder(tmp_path):
    "`evaluate --checkpoint RUN` (as --help offers) finds RUN/model/ beside the run's own config.json."
    from cxr_graphalign.models import create_model
    run = tmp_path/"run"; create_model("convirt-tiny").save_pretrained(run/"model")
    (run/"config.json").write_text(json.dumps({"method": "convirt-tiny", "data": "phantom"}))   # the training config
    r = cli("evaluate", "--checkpoint", run, "--task", "retrieval", "--data", "phantom", "--limit", 4, "--image-size", 32,
            "--results", tmp_path/"r.csv")
    assert r.crashed is None and r.rc == 0, r
    assert "| convirt-tiny |" in r.out


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_damaged_weights_are_named(tmp_path, damage):
    from cxr_graphalign.models import create_model
    folder = create_model("convirt-tiny").save_pretrained(tmp_path/"model")
    w = folder/"model.safetensors"; raw = bytearray(w.read_bytes())
    if damage == "flip": raw[len(raw) - 100] ^= 0x04
    else: raw = raw[:len(raw) // 3]
    w.write_bytes(bytes(raw))
    r = cli("evaluate", "--checkpoint", folder, "--task", "retrieval", "--data", "phantom", "--limit", 4, "--image-size", 32,
            "--results", tmp_path/"r.csv")
    assert r.crashed is None and r.rc == 2, r
    assert f"{w} does not match the checksum recorded in {folder/'config.json'}" in r.out + r.err, r
    assert not (tmp_path/"r.csv").exists()
