"""Operators under hostile input: every public method that takes tensors either returns a result or
raises ``ValueError`` with a one-line message (never RuntimeError, IndexError, TypeError, ...),
finite input gives finite output, and constructor arguments that allocate are bounded.

"Finite input" here means values of moderate size (|v| <= 1e4; images live in [-1, 1]): values
near the float range overflow in any sum, which no operator can prevent.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch
from hypothesis import event, given, settings
from hypothesis import strategies as st
from torch import Tensor

import splitdiff as sd
from splitdiff.operators import KernelWizard
from helpers import randomize

#: Registered operators the registry-wide fuzz does not build, and why (asserted below).
EXCLUDED = {
    "nonlinear_blur": "needs a bkse checkpoint: fuzzed separately with a tiny KernelWizard",
    "deepinv": "wraps a user's deepinv physics (optional extra): its shapes are deepinv's",
}

_MASK = np.ones((8, 8))
_MASK[2:5, 3:6] = 0

#: Constructor options per registered operator: small kernels, so that sides <= 40 reach the
#: valid paths as well as the refusals.
OPTIONS: dict[str, list[dict]] = {
    "super_resolution": [{}, {"scale": 2}],
    "gaussian_blur": [{"kernel_size": 5, "std": 1.0}, {}],
    "motion_blur": [{"kernel_size": 9}],
    "blur": [{"kernel": np.full((3, 5), 1 / 15)}, {"kernel": np.full((17, 17), 1 / 289)}],  # direct and FFT paths
    "inpainting": [{}, {"mask_type": "random"}, {"mask": _MASK}],
    "box_inpainting": [{"box": 4, "margin": 1}, {}],
    "random_inpainting": [{}],
    "phase_retrieval": [{}, {"oversampling": 0.5}],
    "hdr": [{}],
}

_BUILT: dict[tuple[str, int], sd.operators.Operator] = {}

DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int64, torch.int32, torch.uint8,
          torch.bool, torch.complex64, torch.complex128]
FLOATS = [torch.float32, torch.float64]
SIDES = st.one_of(st.integers(0, 40), st.sampled_from([0, 1, 2, 4, 8, 9, 16, 24, 32, 33, 40]))
#: Sides every fuzzed operator takes in some configuration (multiples of 4, past the kernels' padding).
GOOD_SIDES = st.sampled_from([8, 16, 32, 36, 40])
#: Inputs that are not tensors at all.
NOT_TENSORS = st.sampled_from([None, 1.0, "x", [[[[0.0]]]], np.zeros((1, 1, 8, 8))])


def _operator(name: str, index: int) -> sd.operators.Operator:
    key = (name, index)
    if key not in _BUILT:
        _BUILT[key] = sd.operators.build(name, **OPTIONS[name][index])
    return _BUILT[key]


def operators(linear: bool = False) -> st.SearchStrategy:
    """A registered operator (cached) of any kind, or only linear ones."""
    cases = [(name, i) for name in sorted(OPTIONS) for i in range(len(OPTIONS[name]))]
    ops = st.sampled_from(cases).map(lambda case: _operator(*case))
    return ops.filter(lambda op: op.linear) if linear else ops


@st.composite
def shapes(draw) -> tuple[int, ...]:
    """Mostly (N, C, H, W) with empty dimensions allowed; sometimes another rank (0..5)."""
    rank = draw(st.sampled_from([4, 4, 4, 4, 0, 1, 2, 3, 5]))
    if rank == 4:
        return (draw(st.integers(0, 2)), draw(st.integers(0, 4)), draw(SIDES), draw(SIDES))
    return tuple(draw(st.lists(st.integers(0, 6), min_size=rank, max_size=rank)))


@st.composite
def good_shapes(draw) -> tuple[int, int, int, int]:
    """(N, C, H, W) shapes the operators take (most of them, at least)."""
    return (draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(GOOD_SIDES), draw(GOOD_SIDES))


@st.composite
def tensors(draw, shape: tuple[int, ...] | None = None, dtypes: list[torch.dtype] | None = None) -> Tensor:
    """A tensor of ``shape`` (default: drawn) with a dtype from ``dtypes`` (default: mostly float,
    any of DTYPES) and values: uniform in [-1, 1], zeros, large (1e4), or one NaN / Inf entry."""
    shape = draw(shapes()) if shape is None else tuple(shape)
    dtype = draw(st.sampled_from(dtypes) if dtypes else st.one_of(st.sampled_from(FLOATS), st.sampled_from(DTYPES)))
    values = draw(st.sampled_from(["uniform", "uniform", "uniform", "zeros", "large", "nan", "inf", "-inf"]))
    g = torch.Generator().manual_seed(draw(st.integers(0, 2**16)))
    if dtype == torch.bool:
        return torch.rand(shape, generator=g) > 0.5
    if not (dtype.is_floating_point or dtype.is_complex):
        return torch.randint(0, 3, shape, generator=g, dtype=dtype)
    x = torch.rand(shape, generator=g, dtype=torch.float64) * 2 - 1
    x = torch.zeros_like(x) if values == "zeros" else 1e4 * x if values == "large" else x
    if values in ("nan", "inf", "-inf") and x.numel():
        x.view(-1)[draw(st.integers(0, x.numel() - 1))] = float(values)
    return x.to(dtype)


def images() -> st.SearchStrategy[Tensor]:
    """Float images of shapes the operators take: the inputs that reach the computations."""
    return good_shapes().flatmap(lambda shape: tensors(shape, FLOATS))


def inputs() -> st.SearchStrategy:
    """Mostly plausible images, else any tensor, else something that is not a tensor."""
    return st.one_of(images(), images(), tensors(), NOT_TENSORS)


@st.composite
def measurements_for(draw, op: sd.operators.Operator, x: object) -> object:
    """Mostly a measurement of the shape ``op`` gives ``x`` (when it has one), else anything."""
    if draw(st.booleans()) and isinstance(x, Tensor):
        try:
            shape = op.output_shape(tuple(x.shape))  # output_shape, too, may only raise ValueError
        except ValueError as err:
            _check_message(err)
        else:
            return draw(tensors(shape, FLOATS if draw(st.integers(0, 4)) else None))
    return draw(inputs())


@st.composite
def rhos(draw, batch: int) -> object:
    """Proximal weights: valid numbers, per-image tensors, and invalid values and types."""
    return draw(st.one_of(
        st.floats(1e-4, 1e4), st.floats(1e-2, 1e2),
        st.sampled_from([0.0, -1.0, float("nan"), float("inf"), float("-inf"), True, "1", None, 1 + 1j]),
        st.lists(st.floats(1e-3, 1e3), min_size=batch, max_size=batch).map(lambda r: torch.tensor(r)),
        st.lists(st.floats(-1.0, 1e3), min_size=0, max_size=3).map(lambda r: torch.tensor(r)),
        st.sampled_from([torch.tensor(float("nan")), torch.ones(1, 1, 1, 1), torch.ones(2, 2), torch.tensor([1])]),
    ))


def _check_message(err: ValueError) -> None:
    message = str(err)
    assert message.strip(), "a ValueError without a message"
    assert "\n" not in message, f"a multi-line message: {message!r}"


def outcome(call) -> object:
    """``call()``'s result, or None when it raised ValueError with a one-line message; any other
    exception fails the test."""
    try:
        result = call()
    except ValueError as err:
        _check_message(err)
        event("refused (ValueError)")
        return None
    event("worked")
    return result


def _finite(*values: object) -> bool:
    """All ``values`` are real floating tensors of finite values (the inputs that must work out finite)."""
    return all(isinstance(v, Tensor) and v.is_floating_point() and bool(torch.isfinite(v).all()) for v in values
               if not isinstance(v, (int, float)))


def _assert_finite_result(out: object, *inputs: object) -> None:
    if out is not None:
        assert isinstance(out, Tensor)
        if _finite(*inputs):
            assert bool(torch.isfinite(out).all()), "finite input gave NaN / Inf output"


def _builtin_operators() -> set[str]:
    """splitdiff's own registered operators (tutorials and examples run in the suite register more)."""
    return {n for n in sd.operators.names() if sd.operators.get(n).__module__.startswith("splitdiff.")}


def test_every_registered_operator_is_fuzzed_or_excluded_on_purpose():
    assert set(EXCLUDED) <= _builtin_operators()
    assert set(OPTIONS) == _builtin_operators() - set(EXCLUDED)


@settings(max_examples=150, deadline=None)
@given(operators(), inputs())
def test_forward(op, x):
    out = outcome(lambda: op(x))
    _assert_finite_result(out, x)
    if out is not None:
        assert tuple(out.shape) == tuple(op.output_shape(tuple(x.shape))) and out.dtype == x.dtype


@settings(max_examples=100, deadline=None)
@given(operators(), inputs(), st.integers(0, 100))
def test_measure(op, x, seed):
    out = outcome(lambda: op.measure(x, generator=torch.Generator().manual_seed(seed)))
    _assert_finite_result(out, x)
    if isinstance(x, Tensor) and x.is_floating_point() and not bool(torch.isfinite(x).all()):
        assert out is None, "measure accepted NaN / Inf"


@settings(max_examples=100, deadline=None)
@given(operators(linear=True), st.data())
def test_adjoint(op, data):
    y = data.draw(st.one_of(inputs(), shapes().flatmap(lambda s: measurements_for(op, torch.zeros(s)))))
    out = outcome(lambda: op.adjoint(y))
    _assert_finite_result(out, y)
    if out is not None:
        assert tuple(op.output_shape(tuple(out.shape))) == tuple(y.shape)


@settings(max_examples=100, deadline=None)
@given(operators(), st.data())
def test_data_gradient(op, data):
    x = data.draw(inputs())
    y = data.draw(measurements_for(op, x))
    out = outcome(lambda: op.data_gradient(x, y))
    _assert_finite_result(out, x, y)
    if out is not None:
        assert out.shape == x.shape


@settings(max_examples=100, deadline=None)
@given(operators(linear=True), st.data())
def test_proximal(op, data):
    v = data.draw(inputs())
    y = data.draw(measurements_for(op, v))
    rho = data.draw(rhos(v.shape[0] if isinstance(v, Tensor) and v.dim() else 1))
    out = outcome(lambda: op.proximal(v, y, rho))
    _assert_finite_result(out, v, y, rho)
    if out is not None:
        assert out.shape == v.shape


@settings(max_examples=100, deadline=None)
@given(operators(), st.data())
def test_check_measurement(op, data):
    image_shape = data.draw(st.one_of(good_shapes(), good_shapes(), shapes(),
                                      st.lists(st.integers(-3, 40), max_size=5).map(tuple),
                                      st.sampled_from([None, "abc", (1.5, 3, 8, 8)])))
    image = torch.zeros(image_shape) if (isinstance(image_shape, tuple)
                                         and all(isinstance(s, int) and s >= 0 for s in image_shape)) else None
    y = data.draw(st.one_of(inputs(), measurements_for(op, image), measurements_for(op, image)))
    out = outcome(lambda: op.check_measurement(y, image_shape))
    if out is not None:
        assert out is y and _finite(y)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_is_refused_with_a_reason(dtype):
    """Decision: the operators run in float32 / float64 only (half-precision FFTs, CG tolerances and
    sums overflow or are missing on CPU); nothing in splitdiff hands them half tensors."""
    x = torch.zeros(1, 3, 8, 8, dtype=dtype)
    for op in (sd.operators.build("hdr"), sd.operators.build("super_resolution", scale=2)):
        with pytest.raises(ValueError, match=r"float32 or float64.*float16|float32 or float64.*bfloat16"):
            op(x)


def test_forward_leaves_values_unchecked_and_measure_checks_them():
    """Values are checked where user data enters (``measure`` / ``check_measurement``), not on every
    call inside a solver loop (a finiteness check costs a GPU sync)."""
    op = sd.operators.build("hdr")
    x = torch.zeros(1, 1, 4, 4)
    x[0, 0, 0, 0] = float("nan")
    assert torch.isnan(op(x)).any()
    with pytest.raises(ValueError, match="NaN or Inf"):
        op.measure(x)
    with pytest.raises(ValueError, match="NaN or Inf"):
        op.check_input(x)
    assert op.check_shape(x) is x


def test_messages_say_what_was_wrong_and_what_is_expected():
    op = sd.operators.build("super_resolution", scale=2)
    with pytest.raises(ValueError, match=r"x must have shape \(N, C, H, W\) \(4 dimensions\), got shape \(3, 8, 8\)"):
        op(torch.zeros(3, 8, 8))
    with pytest.raises(ValueError, match=r"x must have non-empty dimensions.*got shape \(0, 3, 8, 8\)"):
        op(torch.zeros(0, 3, 8, 8))
    with pytest.raises(ValueError, match=r"x must be a floating-point tensor \(float32 or float64\), got .*int64"):
        op(torch.zeros(1, 3, 8, 8, dtype=torch.int64))
    with pytest.raises(ValueError, match=r"y has shape \(1, 3, 8, 8\), but .* expects \(1, 3, 4, 4\)"):
        op.data_gradient(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 8))
    with pytest.raises(ValueError, match="rho must be"):
        op.proximal(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 4, 4), float("nan"))
    with pytest.raises(ValueError, match="no image side"):
        sd.operators.build("phase_retrieval").input_shape((1, 3, 4, 5))


# --- nonlinear blur, with a tiny KernelWizard (the published one needs a checkpoint) ---------------

TINY_WIZARD = dict(nf=4, front_RBs=1, back_RBs=1, kernel_dim=32, extractor_blocks=1)


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("bkse") / "tiny.pth"
    torch.save(randomize(KernelWizard(**TINY_WIZARD), scale=0.2).state_dict(), path)
    return path


@pytest.fixture(scope="module")
def nonlinear_blur(tiny_checkpoint):
    return sd.operators.build("nonlinear_blur", checkpoint=tiny_checkpoint, network=TINY_WIZARD)


NONLINEAR_BLUR_SHAPES = st.one_of(
    st.sampled_from([(1, 3, 128, 128), (2, 3, 128, 128)]),
    st.sampled_from([(1, 1, 128, 128), (1, 3, 96, 128), (1, 3, 0, 128), (0, 3, 128, 128), (3, 128, 128), (1, 3, 8, 8)]),
)


@settings(max_examples=20, deadline=None)
@given(st.data())
def test_nonlinear_blur(nonlinear_blur, data):
    op = nonlinear_blur
    x = data.draw(st.one_of(NONLINEAR_BLUR_SHAPES.flatmap(lambda shape: tensors(shape, FLOATS)),
                            NONLINEAR_BLUR_SHAPES.flatmap(tensors), NOT_TENSORS))
    y = data.draw(measurements_for(op, x))
    out = outcome(lambda: op(x))
    _assert_finite_result(out, x)
    _assert_finite_result(outcome(lambda: op.data_gradient(x, y)), x, y)
    _assert_finite_result(outcome(lambda: op.measure(x)), x)


# --- bounds on constructor arguments that allocate --------------------------------------------------

def _refused_quickly(call, match: str) -> None:
    start = time.perf_counter()
    with pytest.raises(ValueError, match=match):
        call()
    assert time.perf_counter() - start < 1.0


BOUNDS = [  # (what, call, the ValueError message it must give)
    ("gaussian_blur std", lambda: sd.operators.build("gaussian_blur", std=1e8), r"std must be .* \(0, 61\], got 100000000"),
    ("gaussian_blur kernel_size", lambda: sd.operators.build("gaussian_blur", kernel_size=10**6 + 1), r"kernel_size must be .*\[1, 1025\]"),
    ("gaussian_kernel std", lambda: sd.operators.gaussian_kernel(61, 1e8), r"std must be"),
    ("gaussian_kernel_1d std", lambda: sd.operators.gaussian_kernel_1d(61, 1e8), r"std must be"),
    ("gaussian_kernel kernel_size", lambda: sd.operators.gaussian_kernel(10**6 + 1, 3.0), r"kernel_size must be .*1025"),
    ("gaussian_kernel_1d kernel_size", lambda: sd.operators.gaussian_kernel_1d(10**9 + 1, 3.0), r"kernel_size must be .*1025"),
    ("motion_kernel kernel_size", lambda: sd.operators.motion_kernel(10**5 + 1), r"kernel_size must be .*1025"),
    ("motion_blur kernel_size", lambda: sd.operators.build("motion_blur", kernel_size=10**5 + 1), r"kernel_size must be .*1025"),
    ("motion_blur intensity", lambda: sd.operators.build("motion_blur", intensity="high"), r"intensity must be"),
    ("blur kernel size", lambda: sd.operators.build("blur", kernel=np.ones((1027, 1))), r"kernel .*at most 1025"),
    ("blur complex kernel", lambda: sd.operators.build("blur", kernel=np.ones((3, 3), dtype=complex)), r"kernel must be real"),
    ("phase_retrieval oversampling", lambda: sd.operators.build("phase_retrieval", oversampling=1000), r"oversampling must be .*\(0, 16\], got 1000"),
    ("hdr scale", lambda: sd.operators.build("hdr", scale=1e9), r"scale must be .*\(0, 100\], got 1000000000"),
    ("box_inpainting box", lambda: sd.operators.build("box_inpainting", box=-1), r"box must be an integer >= 1, got -1"),
    ("box_inpainting margin", lambda: sd.operators.build("box_inpainting", margin=-4), r"margin must be an integer >= 0, got -4"),
    ("box_inpainting position", lambda: sd.operators.build("box_inpainting", position=(1,)), r"position must be a pair"),
    ("box_inpainting seed", lambda: sd.operators.build("box_inpainting", seed=-1), r"seed must be an integer in \[0, 4294967295\]"),
    ("random_inpainting seed", lambda: sd.operators.build("random_inpainting", seed=1.5), r"seed must be an integer"),
    ("random_inpainting drop high", lambda: sd.operators.build("random_inpainting", drop=(0.5, 1.5)), r"drop must be a range"),
    ("random_inpainting drop type", lambda: sd.operators.build("random_inpainting", drop=("a", 0.7)), r"drop must be a range"),
    ("random_inpainting drop scalar", lambda: sd.operators.build("random_inpainting", drop=0.7), r"drop must be a range"),
    ("random_mask height", lambda: sd.operators.random_mask(0, 8), r"height must be an integer >= 1"),
    ("box_mask width", lambda: sd.operators.box_mask(8, -8), r"width must be an integer >= 1"),
    ("inpainting empty mask", lambda: sd.operators.build("inpainting", mask=np.ones((0, 8))), r"mask must be"),
    ("inpainting text mask", lambda: sd.operators.build("inpainting", mask=[["a"]]), r"mask must be"),
]


@pytest.mark.parametrize("call,match", [case[1:] for case in BOUNDS], ids=[case[0] for case in BOUNDS])
def test_allocating_arguments_are_bounded(call, match):
    _refused_quickly(call, match)


def test_bounds_keep_the_paper_settings():
    """61x61 std 3.0 (Gaussian blur), 61 / 0.5 (motion blur), oversampling 2, HDR scale 2 still build;
    the Gaussian kernel keeps DPS's exact numbers; the bounds themselves are allowed."""
    from scipy.ndimage import gaussian_filter

    delta = np.zeros((61, 61))
    delta[30, 30] = 1.0
    assert np.array_equal(sd.operators.gaussian_kernel(61, 3.0), gaussian_filter(delta, 3.0))
    for name in ("gaussian_blur", "motion_blur", "phase_retrieval", "hdr"):
        sd.operators.build(name)
    sd.operators.build("gaussian_blur", kernel_size=5, std=5.0)
    sd.operators.build("phase_retrieval", oversampling=16)
    sd.operators.build("hdr", scale=100)
    assert sd.operators.gaussian_kernel_1d(1025, 3.0).shape == (1025,)


def test_matrix_refuses_large_images():
    """``matrix`` builds a dense (D, D) basis: only small images (D <= 4096), (C, H, W) only."""
    op = sd.operators.build("super_resolution", scale=2)
    with pytest.raises(ValueError, match="image_shape"):
        op.matrix((3, 1024, 1024))
    with pytest.raises(ValueError, match="image_shape"):
        op.matrix((3, 8))


def test_nonlinear_blur_arguments_are_checked(tiny_checkpoint):
    build = lambda **kw: sd.operators.build("nonlinear_blur", checkpoint=tiny_checkpoint, network=TINY_WIZARD, **kw)  # noqa: E731
    with pytest.raises(ValueError, match=r"code_scale must be a finite number in \[0, 1000\], got 1000000000"):
        build(code_scale=1e9)
    with pytest.raises(ValueError, match=r"seed must be an integer"):
        build(seed="0")
    with pytest.raises(ValueError, match=r"code must have shape \(1, 32, H/128, W/128\)"):
        build(code=torch.zeros(1, 8, 1, 1))
    op = build(code=torch.zeros(1, 32, 1, 1))
    with pytest.raises(ValueError, match="kernel code of shape .* fits images of 128x128 pixels"):
        op(torch.zeros(1, 3, 256, 256))
    assert op(torch.zeros(1, 3, 128, 128, dtype=torch.float64)).dtype == torch.float64
