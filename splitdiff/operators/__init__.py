"""Forward models ``A`` with their noise model. Build by name::

    op = splitdiff.operators.build("super_resolution", scale=4, sigma=0.05)
    y = op.measure(x, generator=g)

Registered names: ``names()``; register your own with ``@register("name")``.
"""

from ..registry import Registry
from .base import LinearOperator, Operator, conjugate_gradient
from .blur import Blur, GaussianBlur, MotionBlur
from .hdr import HighDynamicRange
from .inpainting import Inpainting, box_mask, random_mask
from .kernels import gaussian_kernel, gaussian_kernel_1d, motion_kernel
from .phase_retrieval import PhaseRetrieval
from .resize import SuperResolution, imresize_matrix
from .separable import SeparableOperator

REGISTRY: Registry[Operator] = Registry("operator")
register = REGISTRY.register
build = REGISTRY.build
names = REGISTRY.names
get = REGISTRY.get


def box_inpainting(**options) -> Inpainting:
    """Box inpainting (128x128 hole at 256x256, margin 16, DDiff's position for seed 0)."""
    return Inpainting(mask_type="box", **options)


def random_inpainting(**options) -> Inpainting:
    """Random inpainting: 70-71% of pixels dropped, the same ones in every channel."""
    return Inpainting(mask_type="random", **options)


register("super_resolution", SuperResolution)
register("gaussian_blur", GaussianBlur)
register("motion_blur", MotionBlur)
register("blur", Blur)
register("inpainting", Inpainting)
register("box_inpainting", box_inpainting)
register("random_inpainting", random_inpainting)
register("phase_retrieval", PhaseRetrieval)
register("hdr", HighDynamicRange)

__all__ = [
    "Operator", "LinearOperator", "SeparableOperator", "conjugate_gradient",
    "SuperResolution", "GaussianBlur", "MotionBlur", "Blur", "Inpainting", "PhaseRetrieval",
    "HighDynamicRange", "imresize_matrix", "gaussian_kernel", "gaussian_kernel_1d",
    "motion_kernel", "box_mask", "random_mask", "box_inpainting", "random_inpainting",
    "REGISTRY", "register", "build", "names", "get",
]
