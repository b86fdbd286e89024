"""Study records, dataset readers, image decoding, splits, the preprocessed cache and phantom radiographs.

Public names of the submodules are importable from here; submodules load on first use, so
`import cxr_graphalign.data` stays light. (Hand-written: the only non-exported files of the package.)"""
import importlib as _importlib, pkgutil as _pkgutil

def _submodules(): return [m.name for m in _pkgutil.iter_modules(__path__) if not m.name.startswith("_")]

def _indexed_module(name):
    "The submodule that nbdev's symbol index says defines `name` (functions and classes), or None."
    from cxr_graphalign._modidx import d
    for mod, syms in d["syms"].items():
        if mod.startswith(__name__ + ".") and f"{mod}.{name}" in syms: return mod
    return None

def __getattr__(name):
    if name.startswith("__"): raise AttributeError(name)
    mod = _indexed_module(name)
    if mod is not None: return getattr(_importlib.import_module(mod), name)
    for sub in _submodules():
        mod = _importlib.import_module(f"{__name__}.{sub}")
        if name in getattr(mod, "__all__", ()): return getattr(mod, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

def __dir__():
    names = set(globals())
    for sub in _submodules(): names |= set(getattr(_importlib.import_module(f"{__name__}.{sub}"), "__all__", ()))
    return sorted(names)
