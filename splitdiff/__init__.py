"""splitdiff: diffusion-prior inverse-problem solvers assembled from parts.

Four concepts, four subpackages, each with a registry (``names``, ``build``, ``register``):
``operators`` (forward models), ``priors`` (denoisers and diffusion models), ``splitting``
(ADMM / HQS / linearized ADMM and their steps), ``algorithms`` (named compositions: DDiff,
its Table 2 ablations, DiffPIR, plug-and-play). Images are NCHW tensors in [-1, 1].
"""

from . import algorithms, demo, evaluation, operators, priors, splitting
from .validation import DivergenceError

__version__ = "0.1.0"

__all__ = ["algorithms", "operators", "priors", "splitting", "evaluation", "demo", "DivergenceError", "__version__"]
