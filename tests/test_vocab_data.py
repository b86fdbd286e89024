"""The report vocabulary is data: its lexicons are JSON files in `cxr_graphalign/assets/vocab/`, the wheel ships
them (every data file of the package is covered by `[tool.setuptools.package-data]`), and the vocabulary built
from them is, object for object and type for type, the one that was written as Python literals in
`graph/vocab.py` before (commit 3a67144: the fingerprints below were taken from that module)."""
import hashlib, tomllib
from pathlib import Path

import cxr_graphalign.graph.vocab as vocab

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT/"cxr_graphalign"

# name -> sha256 of repr(object), first 16 hex digits; repr tells a tuple from a list and keeps dict order
LITERAL_VOCABULARY = {
    'CHEXPERT_LABELS': 'c740304df99ba1e7', 'CHESTXRAY14_LABELS': 'd1abccb952b60389', 'RELATION_TYPES': '91ddd865f5e7e3e4',
    'ENTITY_TYPES': 'f4e7a7bfa3104a36', 'EXISTENCE': '8228ec12d9cbf060', 'OBSERVATIONS': '99ea9f604a2b57bc',
    'OBSERVATION_SYNONYMS': '35b3cddf0fc0710d', 'OBSERVATION_TO_CHEXPERT': '55d9417a12143702',
    'OBSERVATION_TO_CHESTXRAY14': '4ade4bd9f51d46f9', 'DEVICE_SYNONYMS': 'b264d2313fb5feb7', 'DEVICES': 'd83bd026cdb5c0b9',
    'SURGICAL_TRACES': 'eef1e481867be4d7', 'DEVICE_TO_CHEXPERT': 'db4a5e0d2b313311', 'ANATOMY_REGIONS': 'e11a30e8687f3724',
    'REGION_INDEX': '908b3eb7060b2ad2', 'PAIRED_STEMS': '0c4bd579563f87b0', 'EXTRA_ANATOMY': 'ad94fcd392c446fd',
    'ANATOMY_PHRASES': 'a62aeb135a043386', 'SIDE_WORDS': '5f946cfac404eb3a', 'MODIFIERS': '3bd02420857d91f7',
    'MODIFIER_CATEGORIES': 'b37935dd683d65a0', 'TRIGGERS': '296e2a53b106c1b6', 'CUES': '68a9afc764f01c4a',
    'CUE_FINDINGS': '46d91037130d5104', 'PHRASES': 'f224b5f9ed60959a',
}


def _fingerprint(obj) -> str:
    return hashlib.sha256(repr(obj).encode()).hexdigest()[:16]


def test_built_vocabulary_equals_the_literal_one():
    changed = [n for n, fp in LITERAL_VOCABULARY.items() if _fingerprint(getattr(vocab, n)) != fp]
    assert not changed, (f"these vocabulary objects differ from the literal vocabulary of commit 3a67144: {changed}; a builder bug "
                         "(a list for a tuple, a lost entry, another order)? If the lexicon files were changed on purpose, put the new "
                         "fingerprints in LITERAL_VOCABULARY")


def test_vocabulary_objects_keep_their_types():
    assert all(isinstance(v, tuple) for v in vocab.OBSERVATION_SYNONYMS.values())
    assert all(isinstance(v, tuple) and len(v) == 3 for v in vocab.ANATOMY_PHRASES.values())
    assert all(isinstance(k, tuple) and all(isinstance(m, tuple) for m in v) for k, v in vocab.CUE_FINDINGS.items())
    assert vocab.MODIFIERS["worsening"] == ("change", "increased")


def test_every_package_data_file_is_in_the_wheel():
    "A data file no `package-data` glob covers is missing from the wheel (the lexicons would be, and the parser would not import)."
    globs = tomllib.loads((ROOT/"pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["cxr_graphalign"]
    covered = {p for g in globs for p in PKG.glob(g)}
    data = {p for p in PKG.rglob("*") if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts}
    assert data, "no data files found"
    missing = sorted(str(p.relative_to(PKG)) for p in data - covered)
    assert not missing, f"add globs for these files to [tool.setuptools.package-data] in pyproject.toml: {missing}"
    assert {p.name for p in (PKG/"assets"/"vocab").glob("*.json")} <= {p.name for p in covered}


def test_lexicon_files_are_what_the_builder_reads():
    "Every lexicon file is read by the vocabulary module (no orphan file, no lexicon left as a literal)."
    names = {p.stem for p in (PKG/"assets"/"vocab").glob("*.json")}
    src = (PKG/"graph"/"vocab.py").read_text()
    assert names == {"observations", "devices", "anatomy", "sides", "modifiers", "triggers", "cues", "cue_findings"}
    assert all(f'read_lexicon("{n}")' in src for n in names)
    assert sum(1 for _ in src.splitlines()) < 300, "the lexicons belong in the data files, not in vocab.py"
