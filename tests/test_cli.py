"""The console entry point as a user meets it: installed script, --help listing every stage, --version,
and an `import cxr_graphalign` that stays light (no torch until a stage needs it)."""
import subprocess, sys
from pathlib import Path

import cxr_graphalign
from cxr_graphalign.cli import COMMANDS

SCRIPT = Path(sys.executable).with_name("cxr-graphalign")

def run(*args):
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, timeout=600)

def test_help_lists_every_subcommand():
    res = run("--help")
    assert res.returncode == 0, res.stderr
    for name in ["graph", "prepare", "phantom", "pretrain", "evaluate", "demo"]:
        assert name in COMMANDS and name in res.stdout, f"{name} missing from --help"

def test_version():
    res = run("--version")
    assert res.stdout.strip() == f"cxr-graphalign {cxr_graphalign.__version__}"

def test_each_subcommand_has_help():
    for name in COMMANDS:
        res = run(name, "--help")
        assert res.returncode == 0 and "usage: cxr-graphalign " + name in res.stdout, (name, res.stderr[-2000:])

def test_unknown_subcommand_fails_clearly():
    res = run("train-everything")
    assert res.returncode == 2 and "unknown command" in res.stderr

def test_import_is_light():
    code = ("import sys, cxr_graphalign, cxr_graphalign.core, cxr_graphalign.cli, cxr_graphalign.graph, cxr_graphalign.models;"
            "heavy = [m for m in ('torch', 'transformers', 'timm', 'fastai', 'pandas') if m in sys.modules]; print(heavy)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.stdout.strip() == "[]", res.stdout + res.stderr
