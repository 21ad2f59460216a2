"""The fused Triton ops are held to the plain-PyTorch reference: values, first and second
derivatives; the reference's own padding math and the backend switch are checked too.

Without CUDA the fused kernels run in Triton's CPU interpreter (see conftest.py), so the
tensors here are tiny.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable, Sequence

import pytest
import torch
from torch import Tensor

from core.ops import backend, bias_act, blur2d, downsample2d, reference_ops, setup_filter, upfirdn2d, upsample2d
from core.ops.bias_act import bias_act_reference
from core.ops.upfirdn2d import upfirdn2d_reference

TOL = {"atol": 1e-5, "rtol": 1e-5}
IMPLS = ["reference", "fused"]


def _skip_without_triton(impl: str) -> None:
    if impl == "fused":
        pytest.importorskip("triton")


def _randn(*shape: int, seed: int, dtype: torch.dtype = torch.float32) -> Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def _derivatives(op: Callable[..., Tensor], inputs: Sequence[Tensor], seed: int) -> list[Tensor]:
    """[y, dL/d inputs, d(dL/d inputs · v)/d(inputs, w)] for L = sum(op(*inputs) * w).

    The last group are second derivatives: of the gradient, both with respect to the inputs
    and to the incoming gradient w (what R1 and path-length regularization differentiate).
    """
    leaves = [t.detach().clone().requires_grad_() for t in inputs]
    y = op(*leaves)
    w = _randn(*y.shape, seed=seed, dtype=y.dtype).requires_grad_()
    firsts = torch.autograd.grad(y, leaves, w, create_graph=True, materialize_grads=True)
    vs = [_randn(*g.shape, seed=seed + 1 + i, dtype=g.dtype) for i, g in enumerate(firsts)]
    second_loss = sum((g * v).sum() for g, v in zip(firsts, vs))
    seconds = torch.autograd.grad(second_loss, [*leaves, w], allow_unused=True, materialize_grads=True)
    return [y.detach(), *(g.detach() for g in firsts), *seconds]


def _assert_all_close(actual: Sequence[Tensor], expected: Sequence[Tensor], **tolerance: float) -> None:
    assert len(actual) == len(expected)
    for index, (a, e) in enumerate(zip(actual, expected)):
        torch.testing.assert_close(a, e, **tolerance, msg=lambda m, i=index: f"output {i}: {m}")


def _relative_error(actual: Tensor, expected: Tensor) -> float:
    expected = expected.double().cpu()
    return ((actual.double().cpu() - expected).norm() / expected.norm()).item()


# --- bias_act -------------------------------------------------------------------------------

BIAS_ACT_CASES = [
    pytest.param((2, 3, 8, 8), 1, act, with_bias, clamp, channels_last,
                 id=f"{act}-bias{int(with_bias)}-clamp{clamp}-{'cl' if channels_last else 'nchw'}")
    for act in ("linear", "relu", "lrelu")
    for with_bias in (False, True)
    for clamp in (None, 1.0)
    for channels_last in (False, True)
] + [
    pytest.param((2, 5), 1, "lrelu", True, 1.0, False, id="fc"),
    pytest.param((4, 3, 6), 2, "relu", True, None, False, id="3d-dim2"),
    pytest.param((3, 2, 4), 0, "lrelu", True, 0.5, False, id="dim0"),
    pytest.param((2, 3, 4, 5), -1, "lrelu", True, 1.0, True, id="cl-dim-1"),
    pytest.param((2, 3, 4, 5), 2, "linear", True, 1.0, True, id="cl-dim2"),
]


@pytest.mark.parametrize(("shape", "dim", "act", "with_bias", "clamp", "channels_last"), BIAS_ACT_CASES)
def test_fused_bias_act_matches_reference_values_and_two_derivatives(
    shape: tuple[int, ...], dim: int, act: str, with_bias: bool, clamp: float | None, channels_last: bool
) -> None:
    pytest.importorskip("triton")
    x = _randn(*shape, seed=0) * 2
    if channels_last:
        x = x.to(memory_format=torch.channels_last)
    inputs = [x, _randn(shape[dim], seed=1)] if with_bias else [x]

    def run(impl: str) -> Callable[..., Tensor]:
        return lambda x, b=None: bias_act(x, b, dim=dim, act=act, clamp=clamp, impl=impl)

    fused = _derivatives(run("fused"), inputs, seed=2)
    _assert_all_close(fused, _derivatives(run("reference"), inputs, seed=2), **TOL)
    if channels_last:
        assert fused[0].is_contiguous(memory_format=torch.channels_last)


def test_both_paths_take_slope_alpha_at_exactly_zero() -> None:
    """At x + b == 0 the slope is alpha on both paths (PyTorch's relu/leaky_relu convention)."""
    pytest.importorskip("triton")
    x = torch.tensor([[-0.5, 1.0, 0.0], [0.5, -3.0, -2.0]], requires_grad=True)
    b = torch.tensor([0.5, -1.0, 0.0])
    for act in ("linear", "lrelu", "relu"):
        fused = torch.autograd.grad(bias_act(x, b, act=act, gain=1.0, impl="fused").sum(), x)[0]
        reference = torch.autograd.grad(bias_act(x, b, act=act, gain=1.0, impl="reference").sum(), x)[0]
        torch.testing.assert_close(fused, reference, atol=0, rtol=0)
    lrelu_grad = torch.autograd.grad(bias_act(x, b, act="lrelu", gain=1.0, impl="reference").sum(), x)[0]
    torch.testing.assert_close(lrelu_grad, torch.tensor([[0.2, 0.2, 0.2], [1.0, 0.2, 0.2]]))


@pytest.mark.parametrize("impl", IMPLS)
def test_bias_act_passes_gradcheck_and_gradgradcheck_in_float64(impl: str) -> None:
    _skip_without_triton(impl)
    x = _randn(2, 3, 4, seed=3, dtype=torch.float64).requires_grad_()
    b = _randn(3, seed=4, dtype=torch.float64).requires_grad_()

    def op(x: Tensor, b: Tensor) -> Tensor:
        return bias_act(x, b, act="lrelu", clamp=1.5, impl=impl)

    assert torch.autograd.gradcheck(op, (x, b))
    assert torch.autograd.gradgradcheck(op, (x, b))


# --- upfirdn2d ------------------------------------------------------------------------------

UPFIRDN_CASES = [
    pytest.param(
        up, down, padding, flip_filter, (3, 4), False, id=f"up{up}-down{down}-pad{padding}-flip{int(flip_filter)}"
    )
    for up in (1, 2)
    for down in (1, 2)
    for padding in ((2, 1, 3, 0), (-1, 2, 1, -2))
    for flip_filter in (False, True)
] + [
    pytest.param(3, 2, (0, 3, -2, 1), False, (4, 3), False, id="up3-down2-tall-filter"),
    pytest.param(2, 1, (4, 3, 0, 0), True, (1, 5), False, id="horizontal-filter"),
    pytest.param(2, 2, (1, 2, 2, 1), False, (3, 4), True, id="channels-last"),
]


@pytest.mark.parametrize(("up", "down", "padding", "flip_filter", "filter_shape", "channels_last"), UPFIRDN_CASES)
def test_fused_upfirdn2d_matches_reference_values_and_two_derivatives(
    up: int, down: int, padding: tuple[int, int, int, int], flip_filter: bool,
    filter_shape: tuple[int, int], channels_last: bool,
) -> None:
    pytest.importorskip("triton")
    x = _randn(2, 3, 8, 7, seed=5)
    if channels_last:
        x = x.to(memory_format=torch.channels_last)
    f = _randn(*filter_shape, seed=6)

    def run(impl: str) -> Callable[[Tensor], Tensor]:
        return lambda x: upfirdn2d(
            x, f, up=up, down=down, padding=padding, flip_filter=flip_filter, gain=1.7, impl=impl
        )

    fused = _derivatives(run("fused"), [x], seed=7)
    _assert_all_close(fused, _derivatives(run("reference"), [x], seed=7), **TOL)
    if channels_last:
        assert fused[0].is_contiguous(memory_format=torch.channels_last)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize(
    ("up", "down", "padding", "flip_filter"), [(2, 1, (1, -1, 0, 2), False), (1, 2, (2, 1, -1, 1), True)]
)
def test_upfirdn2d_passes_gradcheck_and_gradgradcheck_in_float64(
    impl: str, up: int, down: int, padding: tuple[int, int, int, int], flip_filter: bool
) -> None:
    _skip_without_triton(impl)
    x = _randn(1, 1, 4, 3, seed=8, dtype=torch.float64).requires_grad_()
    f = _randn(3, 2, seed=9, dtype=torch.float64)

    def op(x: Tensor) -> Tensor:
        return upfirdn2d(x, f, up=up, down=down, padding=padding, flip_filter=flip_filter, gain=1.5, impl=impl)

    assert torch.autograd.gradcheck(op, (x,))
    assert torch.autograd.gradgradcheck(op, (x,))


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize(
    ("resample", "taps", "size"),
    [
        (upsample2d, [1, 3, 3, 1], (32, 24)),
        (upsample2d, [1, 1], (32, 24)),
        (upsample2d, [1, 2, 1], (32, 24)),
        (downsample2d, [1, 3, 3, 1], (8, 6)),
        (downsample2d, [1, 2, 1], (8, 6)),
        (blur2d, [1, 3, 3, 1], (16, 12)),
        (blur2d, [1, 2, 1], (16, 12)),
    ],
)
def test_resampling_helpers_keep_size_and_keep_a_constant_image_constant_inside(
    impl: str, resample: Callable[..., Tensor], taps: list[float], size: tuple[int, int]
) -> None:
    _skip_without_triton(impl)
    x = torch.full((1, 2, 16, 12), 0.7)
    y = resample(x, setup_filter(taps), impl=impl)
    assert y.shape == (1, 2, *size)
    inside = y[:, :, 2:-2, 2:-2]
    torch.testing.assert_close(inside, torch.full_like(inside, 0.7), **TOL)


def test_fused_ops_accept_strided_views_and_expanded_gradients() -> None:
    """A non-dense input view and the stride-0 gradient of `sum()` give the reference's results."""
    pytest.importorskip("triton")
    x = _randn(2, 3, 8, 14, seed=17)
    b = _randn(3, seed=18)
    f = _randn(3, 4, seed=19)
    ops = [
        lambda x, impl: bias_act(x, b, act="lrelu", impl=impl),
        lambda x, impl: upfirdn2d(x, f, up=2, down=1, padding=(1, 2, 2, 1), impl=impl),
    ]
    for op in ops:
        results = []
        for impl in IMPLS:
            leaf = x.detach().clone().requires_grad_()
            y = op(leaf[:, :, :, ::2], impl)
            (grad,) = torch.autograd.grad(y.sum(), leaf)
            results.append([y.detach(), grad])
        _assert_all_close(results[1], results[0], **TOL)


# --- backend switch -------------------------------------------------------------------------


@pytest.fixture
def fused_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make every tensor look like CUDA with Triton present, so `auto` would go fused.

    The fused modules are replaced by spies that record the call and return the reference
    result, so this runs on CPU without triton.
    """
    calls: list[str] = []
    monkeypatch.setattr(torch.Tensor, "is_cuda", property(lambda self: True))
    monkeypatch.setattr(backend, "triton_available", lambda: True)

    def spy(name: str, reference: Callable[..., Tensor]) -> Callable[..., Tensor]:
        def fused(*args: object) -> Tensor:
            calls.append(name)
            return reference(*args)

        return fused

    for module, name, reference in [
        ("core.ops.triton_bias_act", "bias_act_fused", bias_act_reference),
        ("core.ops.triton_upfirdn2d", "upfirdn2d_fused", upfirdn2d_reference),
    ]:
        fake = types.ModuleType(module)
        setattr(fake, name, spy(name, reference))
        monkeypatch.setitem(sys.modules, module, fake)
    return calls


def _run_both_ops(impl: str = "auto") -> None:
    x = _randn(1, 3, 4, 4, seed=10)
    bias_act(x, torch.zeros(3), act="lrelu", impl=impl)
    upfirdn2d(x, setup_filter([1, 3, 3, 1]), up=2, padding=1, impl=impl)


def test_auto_takes_fused_path_where_chosen_unless_reference_is_forced(
    fused_calls: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _run_both_ops()
    assert fused_calls == ["bias_act_fused", "upfirdn2d_fused"]
    fused_calls.clear()

    with reference_ops():
        assert not backend.use_fused(torch.zeros(1))
        _run_both_ops()
    assert fused_calls == []
    assert backend.force_reference is False

    monkeypatch.setattr(backend, "force_reference", True)
    _run_both_ops()
    assert fused_calls == []


def test_reference_impl_never_takes_fused_path(fused_calls: list[str]) -> None:
    _run_both_ops(impl="reference")
    assert fused_calls == []


def test_cpu_tensors_take_reference_path() -> None:
    assert not backend.use_fused(torch.zeros(1))


# --- real CUDA, low precision -----------------------------------------------------------------

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.cuda)]
DTYPES = [
    pytest.param(dtype, id=str(dtype).removeprefix("torch."))
    for dtype in (torch.float32, torch.float16, torch.bfloat16)
]


def _check_against_fp32(actual: Sequence[Tensor], expected: Sequence[Tensor], dtype: torch.dtype) -> None:
    """fp32 to 1e-5; fp16/bf16 to 1e-2 relative (in norm) of the fp32 reference on CPU."""
    for index, (a, e) in enumerate(zip(actual, expected)):
        if dtype == torch.float32:
            torch.testing.assert_close(a.cpu(), e, **TOL)
        else:
            assert _relative_error(a, e) <= 1e-2, (index, _relative_error(a, e))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("device", DEVICES)
def test_fused_bias_act_in_low_precision_matches_fp32_reference(device: str, dtype: torch.dtype) -> None:
    pytest.importorskip("triton")
    x = (_randn(2, 4, 8, 8, seed=11) * 2).to(device, dtype).requires_grad_()
    b = _randn(4, seed=12).to(device).requires_grad_()
    dy = _randn(2, 4, 8, 8, seed=13).to(device, dtype)
    y = bias_act(x, b, act="lrelu", clamp=2.0, impl="fused")
    assert y.dtype == dtype
    dx, db = torch.autograd.grad(y, (x, b), dy)

    x32 = x.detach().float().cpu().requires_grad_()
    b32 = b.detach().cpu().requires_grad_()
    y32 = bias_act(x32, b32, act="lrelu", clamp=2.0, impl="reference")
    dx32, db32 = torch.autograd.grad(y32, (x32, b32), dy.float().cpu())
    _check_against_fp32([y, dx, db], [y32, dx32, db32], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("device", DEVICES)
def test_fused_upfirdn2d_in_low_precision_matches_fp32_reference(device: str, dtype: torch.dtype) -> None:
    pytest.importorskip("triton")
    f = _randn(4, 3, seed=14)
    x = _randn(2, 4, 8, 8, seed=15).to(device, dtype).requires_grad_()

    def op(x: Tensor, impl: str) -> Tensor:
        return upfirdn2d(x, f.to(x.device), up=2, down=1, padding=(2, 1, 1, 2), gain=4.0, impl=impl)

    y = op(x, "fused")
    assert y.dtype == dtype
    dy = _randn(*y.shape, seed=16).to(device, dtype)
    (dx,) = torch.autograd.grad(y, x, dy)

    x32 = x.detach().float().cpu().requires_grad_()
    y32 = op(x32, "reference")
    (dx32,) = torch.autograd.grad(y32, x32, dy.float().cpu())
    _check_against_fp32([y, dx], [y32, dx32], dtype)
