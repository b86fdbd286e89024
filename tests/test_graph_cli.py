"""`cxr-graphalign graph` end to end: report text or a file in, JSON + a readable table out, clear errors."""
import json, subprocess, sys

def run(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "cxr_graphalign.cli", "graph", *args], capture_output=True,
                          text=True, input=stdin, timeout=300)

REPORT = "FINDINGS: Heart size is normal. Small left pleural effusion. No pneumothorax. IMPRESSION: Left effusion."

def test_text_json():
    res = run(REPORT, "--format", "json")
    assert res.returncode == 0, res.stderr
    d = json.loads(res.stdout)
    ents = {(e["name"], e["existence"], e["side"]) for e in d["entities"] if e["type"] == "observation"}
    assert ("pleural effusion", "present", "left") in ents and ("pneumothorax", "absent", None) in ents
    assert ("cardiomegaly", "absent", None) in ents
    assert d["labels"]["Pleural Effusion"] == 1.0 and d["labels"]["Pneumothorax"] == 0.0 and d["labels"]["Fracture"] is None
    assert set(d["sections"]) == {"findings", "impression"}

def test_file_both_formats(tmp_path):
    f = tmp_path / "report.txt"
    f.write_text(REPORT)
    res = run("--file", str(f))
    assert res.returncode == 0, res.stderr
    head, table = res.stdout.split("\nid ", 1)
    assert json.loads(head)["text"] == REPORT
    assert "pleural effusion" in table and "labels (CheXpert):" in table and "-located_at->" in table

def test_stdin():
    res = run("--file", "-", "--format", "table", stdin="No acute disease.")
    assert res.returncode == 0 and "No Finding=1" in res.stdout, res.stdout + res.stderr

def test_errors_are_clear():
    res = run("--file", "/nonexistent/report.txt")
    assert res.returncode == 2 and "no such file" in res.stderr
    res = run()
    assert res.returncode == 2 and "give the report text" in res.stderr

def test_empty_report():
    res = run("   ", "--format", "json")
    assert res.returncode == 0 and json.loads(res.stdout)["entities"] == []
