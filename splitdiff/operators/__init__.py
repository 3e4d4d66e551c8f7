"""Forward models ``A`` with their noise model. Build by name::

    op = splitdiff.operators.build("super_resolution", scale=4, sigma=0.05)
    y = op.measure(x, generator=g)

Registered names: ``names()``; register your own with ``@register("name")``.
"""

from ..registry import Registry
from .base import ConvergenceWarning, LinearOperator, Operator, conjugate_gradient
from .fidelity import L2, SQUARED_ERROR
from .blur import Blur, GaussianBlur, MotionBlur
from .hdr import MAX_HDR_SCALE, HighDynamicRange
from .inpainting import BoxInpainting, Inpainting, RandomInpainting, box_mask, random_mask
from .latent import LatentOperator
from .kernels import MAX_KERNEL_SIZE, gaussian_kernel, gaussian_kernel_1d, motion_kernel
from .nonlinear_blur import KernelWizard, NonlinearBlur
from .phase_retrieval import MAX_OVERSAMPLING, PhaseRetrieval
from .resize import SuperResolution, imresize_matrix
from .separable import SeparableOperator
from .deepinv_adapter import DeepinvLinearOperator, DeepinvOperator, from_deepinv, to_deepinv

REGISTRY: Registry[Operator] = Registry("operator")
register, build, names, get = REGISTRY.functions()


register("super_resolution", SuperResolution)
register("gaussian_blur", GaussianBlur)
register("motion_blur", MotionBlur)
register("blur", Blur)
register("inpainting", Inpainting)
register("box_inpainting", BoxInpainting)
register("random_inpainting", RandomInpainting)
register("phase_retrieval", PhaseRetrieval)
register("hdr", HighDynamicRange)
register("nonlinear_blur", NonlinearBlur)
register("deepinv", from_deepinv)

__all__ = [
    "Operator", "LinearOperator", "SeparableOperator", "conjugate_gradient", "ConvergenceWarning", "L2", "SQUARED_ERROR",
    "SuperResolution", "GaussianBlur", "MotionBlur", "Blur", "Inpainting", "PhaseRetrieval",
    "HighDynamicRange", "LatentOperator", "KernelWizard", "NonlinearBlur", "imresize_matrix", "gaussian_kernel", "gaussian_kernel_1d",
    "motion_kernel", "box_mask", "random_mask", "BoxInpainting", "RandomInpainting",
    "DeepinvOperator", "DeepinvLinearOperator", "from_deepinv", "to_deepinv",
    "REGISTRY", "register", "build", "names", "get",
    "MAX_KERNEL_SIZE", "MAX_OVERSAMPLING", "MAX_HDR_SCALE",
]
