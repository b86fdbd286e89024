"""Every method preset trains under CUDA's autocast dtype rules, checked on CPU.

CPU autocast keeps `layer_norm`, `softmax` and reductions in bfloat16, so code that mixes a float32 buffer with a
half-precision matmul output (the `index_add_` crash of issue 14 on an H200) runs on CPU and fails only on a GPU.
`cuda_autocast_rules` applies CUDA's rules on CPU instead: the matmul/convolution family runs in the low-precision dtype,
the float32 family (normalisation, softmax, exp/log, reductions, norms) in float32, everything else in its inputs' dtypes."""
import contextlib
from unittest import mock

import pytest
import torch
import torch.nn.functional as F

from cxr_graphalign.models import create_model, list_methods

_T = torch.Tensor
LOW = [(F, "linear"), (F, "conv1d"), (F, "conv2d"), (F, "conv3d"), (F, "scaled_dot_product_attention"), (F, "prelu"),
       (torch, "matmul"), (torch, "mm"), (torch, "bmm"), (torch, "baddbmm"), (torch, "addmm"), (torch, "einsum"), (torch, "mv"),
       (_T, "matmul"), (_T, "__matmul__"), (_T, "__rmatmul__"), (_T, "mm"), (_T, "bmm"), (_T, "baddbmm"), (_T, "addmm")]
FP32 = [(F, "layer_norm"), (F, "group_norm"), (F, "softmax"), (F, "log_softmax"), (F, "normalize"), (F, "cross_entropy"),
        (F, "nll_loss"), (F, "mse_loss"), (F, "l1_loss"), (F, "binary_cross_entropy_with_logits"), (F, "cosine_similarity"),
        (F, "softplus"), (F, "kl_div"), (torch, "softmax"), (torch, "log_softmax"), (torch, "exp"), (torch, "log"), (torch, "pow"),
        (torch, "sum"), (torch, "prod"), (torch, "cumsum"), (torch, "norm"), (torch, "logsumexp"), (torch, "rsqrt"), (torch, "cdist"),
        (_T, "softmax"), (_T, "log_softmax"), (_T, "exp"), (_T, "log"), (_T, "pow"), (_T, "__pow__"), (_T, "sum"), (_T, "prod"),
        (_T, "cumsum"), (_T, "norm"), (_T, "logsumexp"), (_T, "rsqrt"), (_T, "reciprocal")]


def _casting(fn, dtype):
    "`fn` with its floating-point tensor arguments (also inside lists) cast to `dtype`."
    cast = lambda x: x.to(dtype) if isinstance(x, torch.Tensor) and x.is_floating_point() else x
    def wrapped(*args, **kwargs):
        args = [type(a)(cast(x) for x in a) if isinstance(a, (list, tuple)) else cast(a) for a in args]
        return fn(*args, **{k: cast(v) for k, v in kwargs.items()})
    return wrapped

@contextlib.contextmanager
def cuda_autocast_rules(low: torch.dtype # torch.bfloat16 or torch.float16
                       ):
    "CUDA autocast's cast policy on any device: the matmul/convolution family in `low`, the float32 family in float32."
    with contextlib.ExitStack() as stack:
        for owner, name in LOW: stack.enter_context(mock.patch.object(owner, name, _casting(getattr(owner, name), low)))
        for owner, name in FP32: stack.enter_context(mock.patch.object(owner, name, _casting(getattr(owner, name), torch.float32)))
        yield


def test_rules_reproduce_cuda_autocast_dtypes():
    "The emulation gives the dtypes CUDA autocast documents: matmuls low, layer_norm float32, mixing promotes."
    x, lin, ln = torch.randn(4, 8), torch.nn.Linear(8, 8), torch.nn.LayerNorm(8)
    with cuda_autocast_rules(torch.bfloat16):
        assert lin(x).dtype == torch.bfloat16 and ln(lin(x)).dtype == torch.float32
        assert (x @ x.T).dtype == torch.bfloat16 and lin(x).softmax(-1).dtype == torch.float32
        with pytest.raises(RuntimeError, match="same scalar type|same dtype|expected"):   # the class of bug it exists to catch
            torch.zeros(4, 8).index_add_(0, torch.arange(4), lin(x))


TINY = [m for m in list_methods() if m.endswith("-tiny")]

@pytest.mark.parametrize("low", [torch.bfloat16, torch.float16], ids=["bf16", "fp16"])
@pytest.mark.parametrize("method", TINY)
def test_preset_trains_under_cuda_autocast_rules(method, low):
    "Forward, every loss term (all cascade stages on) and backward of each preset, with finite loss and gradients."
    from cxr_graphalign.models.encoders import iu_report_texts
    torch.manual_seed(0)
    model = create_model(method, image__img_size=64)
    model.loss.set_progress(1.0)
    if model.loss.schedule is not None: model.loss.schedule.mode = "all"; model.loss.set_progress(1.0)
    texts = iu_report_texts("even")[:6]
    batch = model.collate([{"image": torch.rand(1, 64, 64, generator=torch.Generator().manual_seed(i)), "text": t} for i, t in enumerate(texts)])
    with cuda_autocast_rules(low):
        out = model(batch)
        loss = model.loss(out)
    loss.backward()
    assert torch.isfinite(loss), (method, model.loss.terms)
    assert all(torch.isfinite(v) for v in model.loss.terms.values()), model.loss.terms
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
