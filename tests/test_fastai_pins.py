"""The training package overrides no private method of fastai's `Learner`, and the fastai internals its callbacks
rely on are pinned by source hash: when fastai changes one, the test names what to re-check before updating the hash."""
import hashlib, inspect

import pytest
from fastai.learner import Learner, SkipToEpoch
from fastai.callback.core import Callback, TrainEvalCallback
from fastai.callback.fp16 import MixedPrecision
from fastai.callback.schedule import ParamScheduler, LRFinder
from fastai.callback.training import GradientAccumulation

# (object, sha256 prefix of its source in fastai 2.8.12, what of ours relies on it)
PINS = [
    (Learner._do_one_batch, "1068807cf45cb310",
     "loss_grad is set before `after_loss` and backward/step run in `_do_grad_opt`: NonFiniteGuard checks the loss in "
     "`before_backward`, GradientAccumulation divides it in `after_loss`"),
    (Learner._do_grad_opt, "aebe7c9d5d3b7fae",
     "`opt.zero_grad()` also runs after a cancelled step: NonFiniteGuard's CancelStepException discards a bad window's gradients"),
    (Learner.fit, "906ea53ee2187e98",
     "`fit(start_epoch=N)` adds SkipToEpoch: PretrainLearner.fit starts a resumed run at its checkpoint's epoch that way"),
    (SkipToEpoch, "a3fe0546d027346f",
     "skipped epochs raise CancelEpochException in `before_epoch` at order 70: PretrainLoop.before_epoch returns early for them"),
    (TrainEvalCallback, "ef2a143167dfc420",
     "`pct_train` is advanced in `after_batch`/`before_train` only: PretrainLoop sets it per optimizer step in `before_batch`"),
    (GradientAccumulation, "f10d7226f412be05",
     "`count` (samples in the window) and `n_acc`: PretrainLoop, NonFiniteGuard and DistributedCallback read or set them; "
     "non-final micro-batches are cancelled in `before_step` (order 6)"),
    (ParamScheduler.before_batch, "6efce1051d50cc5f",
     "the schedule is evaluated at `self.pct_train`: the warm-up-cosine schedule is clocked by PretrainLoop's step share"),
    (MixedPrecision, "7261f5fe59aca7c0",
     "AutocastMixedPrecision replaces `self.autocast` after `before_fit`, overrides `after_pred`/`after_loss`, and reads `amp_mode`"),
]


def _digest(obj): return hashlib.sha256(inspect.getsource(obj).encode()).hexdigest()[:16]


@pytest.mark.parametrize("obj,digest,why", PINS, ids=[o.__qualname__ for o, *_ in PINS])
def test_fastai_internals_unchanged(obj, digest, why):
    now = _digest(obj)
    assert now == digest, (f"fastai's {obj.__module__}.{obj.__qualname__} changed (source hash {now}, pinned {digest}). "
                           f"Re-check: {why}. Then run nbs/05b_train.loop.ipynb and tests/test_train_resume.py and update the hash here.")


def test_learner_overrides_no_private_fastai_method():
    from cxr_graphalign.train import PretrainLearner
    private = sorted(n for n in vars(PretrainLearner) if n.startswith("_") and not n.startswith("__") and hasattr(Learner, n))
    assert not private, f"PretrainLearner overrides fastai's private Learner methods {private}: use public events/callbacks, or pin them here"


def test_callbacks_override_no_private_fastai_method():
    from cxr_graphalign import train, distributed
    classes = [train.AutocastMixedPrecision, train.NonFiniteGuard, train.MetricsLogger, train.CheckpointCallback,
               train.PretrainLoop, distributed.DistributedCallback]
    bad = {c.__name__: [n for n in vars(c) if n.startswith("_") and not n.startswith("__")
                        and any(n in vars(b) for b in c.__mro__[1:] if b.__module__.startswith("fastai"))] for c in classes}
    assert not any(bad.values()), f"callbacks override fastai's private methods: {bad}"


def test_callback_attribute_names():
    "Our callbacks find fastai's by the attribute name fastai gives them on the learner."
    assert GradientAccumulation().name == "gradient_accumulation"      # PretrainLoop, NonFiniteGuard, DistributedCallback
    assert LRFinder().name == "lr_finder"                              # `lr_find` is recognised as a mock run
    assert issubclass(LRFinder, ParamScheduler) and issubclass(SkipToEpoch, Callback)
