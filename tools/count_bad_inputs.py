"""Count how the catalogue of bad inputs in tests/test_cli_inputs.py ends on the installed (or PYTHONPATH) code:
clear one-line error, an error that is not one clear line, a traceback, or accepted (exit 0, or still running after
LIMIT seconds). Usage: `python tools/count_bad_inputs.py [TESTS_DIR] [LIMIT]` (run it outside the checkout, with
PYTHONPATH pointing at the code to measure, to count an older version)."""
import signal, sys, json, tempfile
from pathlib import Path
sys.path.insert(0, sys.argv[1] if len(sys.argv) > 1 else str(Path(__file__).resolve().parents[1]/"tests"))
from clitools import cli, covid_fixture
import test_cli_inputs as T
class Timeout(Exception): pass
def alarm(*a): raise Timeout()
signal.signal(signal.SIGALRM, alarm)
d = Path(tempfile.mkdtemp())
covid_fixture(d/"root"); (d/"empty").mkdir(); (d/"empty"/"metadata.csv").write_text("")
(d/"afile").write_text("x"); (d/"image.png").write_bytes(T.PNG)
(d/"latin1.txt").write_bytes("Épanchement pleural gauche. No pneumothorax.".encode("latin-1"))
run = d/"run"; (run/"checkpoints").mkdir(parents=True); (run/"checkpoints"/"step-00000001.pt").write_bytes(b"x")
(run/"config.json").write_text(json.dumps({"method": "convirt-tiny"})); (run/"metrics.csv").write_text("step\n1\n")
cases = [(a.format(ws=d).split(), e.format(ws=d)) for a, e in T.CASES]
cases.append((["graph", "-f", "-"], "stdin is not UTF-8"))
counts, rows = {}, []
for argv, expect in cases:
    signal.alarm(int(sys.argv[2]) if len(sys.argv) > 2 else 60)
    try:
        r = cli(*argv, stdin="Lésion\n".encode("latin-1") if argv[-1] == "-" else b"")
        signal.alarm(0)
        if isinstance(r.crashed, Timeout): kind = "accepted (still running at the time limit)"
        elif r.crashed is not None: kind = "traceback"
        elif r.rc == 0: kind = "accepted (exit 0)"
        elif r.rc == 2 and len(r.lines) == 1 and expect in r.lines[0]: kind = "clear one-line error"
        else: kind = "error, but not one clear line naming the problem"
    except Timeout: kind = "accepted (still running at the time limit)"
    signal.alarm(0)
    counts[kind] = counts.get(kind, 0) + 1
    rows.append((kind, " ".join(argv).replace(str(d), "WS")[:110]))
for k, a in rows: print(f"{k:55s} {a}")
print(json.dumps(counts, indent=1), "total", len(cases))
