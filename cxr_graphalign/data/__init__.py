"""Study records, dataset readers, image decoding, splits, the preprocessed cache and phantom radiographs.

Public names of the submodules are importable from here; submodules load on first use, so
`import cxr_graphalign.data` stays light. (Hand-written: the only non-exported files of the package.)"""
import importlib as _importlib, pkgutil as _pkgutil

def _submodules(): return [m.name for m in _pkgutil.iter_modules(__path__) if not m.name.startswith("_")]

def __getattr__(name):
    if name.startswith("__"): raise AttributeError(name)
    for sub in _submodules():
        mod = _importlib.import_module(f"{__name__}.{sub}")
        if name in getattr(mod, "__all__", ()): return getattr(mod, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

def __dir__():
    names = set(globals())
    for sub in _submodules(): names |= set(getattr(_importlib.import_module(f"{__name__}.{sub}"), "__all__", ()))
    return sorted(names)
