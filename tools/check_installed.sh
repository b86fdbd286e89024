#!/usr/bin/env bash
# What a user of `pip install cxr-graphalign` meets first, checked in the virtual environment given as $1, which holds
# only the base install (the built wheel, no dev extras): the console script, every subcommand's --help, `graph` on a
# report, `demo --quick` end to end with its page under 3 MB, the lung U-Net of `evaluate` on real covid-cxr images (when
# ../shared/data holds them), and a notebook run top to bottom without nbdev.
# Used by .ci/run; any failure exits non-zero.
set -euo pipefail
VENV="${1:?usage: tools/check_installed.sh VENV (a virtual environment with the wheel installed)}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CLI="$VENV/bin/cxr-graphalign"
WORK="$(mktemp -d)"
cd "$WORK"   # away from the checkout, so the installed package is the one imported
export CXR_GRAPHALIGN_HOME="$WORK/home"

where="$("$VENV/bin/python" -c 'import cxr_graphalign; print(cxr_graphalign.__file__)')"
case "$where" in "$VENV"/*) ;; *) echo "cxr_graphalign imported from $where, not from the wheel in $VENV"; exit 1;; esac
if "$VENV/bin/python" -c 'import nbdev' 2>/dev/null; then echo "nbdev is installed in $VENV: not a base install"; exit 1; fi

"$CLI" --help
"$CLI" --version
for cmd in $("$VENV/bin/python" -c 'from cxr_graphalign.cli import COMMANDS; print(" ".join(COMMANDS))'); do
  "$CLI" "$cmd" --help > "$WORK/help.txt" || { echo "cxr-graphalign $cmd --help failed"; exit 1; }
  grep -q "^examples:" "$WORK/help.txt" || { echo "cxr-graphalign $cmd --help shows no examples"; exit 1; }
  echo "cxr-graphalign $cmd --help: ok"
done

"$CLI" graph "FINDINGS: Small left pleural effusion. No pneumothorax. IMPRESSION: Mild cardiomegaly." --format json > "$WORK/graph.json"
"$VENV/bin/python" - "$WORK/graph.json" <<'PY'
import json, sys
g = json.load(open(sys.argv[1]))
assert g["labels"]["Pleural Effusion"] == 1.0 and g["labels"]["Pneumothorax"] == 0.0 and g["labels"]["Cardiomegaly"] == 1.0, g["labels"]
print("cxr-graphalign graph: ok")
PY

"$CLI" demo --quick --out "$WORK/demo" > "$WORK/demo.log" 2>&1 || { tail -40 "$WORK/demo.log"; exit 1; }
tail -1 "$WORK/demo.log"
bytes=$(stat -c %s "$WORK/demo/index.html")
[ "$bytes" -le 3000000 ] || { echo "demo page is $bytes bytes, over the 3 MB bound"; exit 1; }
echo "cxr-graphalign demo --quick: ok ($bytes bytes)"

COVID="$ROOT/../shared/data/covid-cxr"
if [ -d "$COVID" ]; then   # segmentation-models-pytorch is a base dependency: `compare` and `evaluate --task segmentation` need it
  "$CLI" evaluate --checkpoint random:convirt-tiny --task segmentation --root "$COVID" --limit 32 --image-size 64 --epochs 1 --seeds 0 \
    --results "$WORK/seg.csv" > "$WORK/seg.log" 2>&1 || { tail -20 "$WORK/seg.log"; exit 1; }
  echo "cxr-graphalign evaluate --task segmentation: ok"
fi

"$VENV/bin/python" "$ROOT/tools/run_notebook.py" "$ROOT/nbs/01b_graph.parse.ipynb"
echo "installed wheel: ok"
