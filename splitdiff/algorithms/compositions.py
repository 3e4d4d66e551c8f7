"""The registered compositions. Each is a few lines: a splitting, a data step, a prior step.

| name            | splitting           | data step                                    | prior step                     |
|-----------------|---------------------|----------------------------------------------|--------------------------------|
| ddiff           | ADMM, Algorithm 1   | normalized gradient, gamma0 * (a | b)        | manifold, DDIM / full renoise  |
| ddiff-hqs       | HQS                 | normalized gradient, 90                      | manifold, DDIM eta = 1         |
| diff-pnp-admm   | ADMM, standard      | as ddiff                                     | direct Tweedie of x + u        |
| diff-pnp-hqs    | HQS                 | as ddiff                                     | direct Tweedie of x            |
| diffpir         | HQS                 | proximal, rho_t = lam sigma_n^2 / sigma_bar^2 | manifold, zeta; starts from y |
| latent-ddiff    | ADMM, Algorithm 1   | as ddiff, through the decoder or in pixels   | manifold, in latent space      |
| pnp-admm        | ADMM, standard      | exact proximal, rho_k = 1 / sigma_k^2        | classical denoiser at sigma_k  |
| pnp-hqs         | HQS                 | exact proximal, rho_k = 1 / sigma_k^2        | classical denoiser at sigma_k  |
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

from torch import Tensor

from ..operators.base import Operator
from ..priors.base import DiffusionPrior, Prior
from ..priors.latent import LatentDiffusionPrior
from ..splitting.data_step import GradientStep, ProximalStep
from ..splitting.loop import HQS, Splitting
from ..splitting.pixel_step import PixelSpaceStep
from ..splitting.prior_step import DirectStep, ManifoldStep, NoiseRule, ddim_sigma, full_renoise, zeta_sigma
from ..splitting.timeline import Schedule, Timeline, schedule_values, geometric, step_down
from .defaults import PAPER_ITERATIONS, PAPER_NUMEL, TASKS, ddiff_defaults, diffpir_defaults
from .solver import Solver
from .start import DiffusedMeasurement


def resolve_parts(prior: Prior | str, operator: Operator | str) -> tuple[Prior, Operator]:
    """A factory's ``prior`` and ``operator``: instances as given, registered names built with
    their defaults (pass an instance to control options such as the operator's sigma).

    An operator built by name warns (``UserWarning``) with the noise std it assumes: a
    measurement taken with another operator (another sigma, kernel or mask) would be solved
    against the wrong model.
    """
    from .. import operators, priors

    prior = priors.build(prior) if isinstance(prior, str) else prior
    if isinstance(operator, str):
        name, operator = operator, operators.build(operator)
        warnings.warn(
            f"operator {name!r} built by name with its defaults ({operator.extra_repr()}); "
            "if y was measured with other settings, pass that Operator instance instead", UserWarning, stacklevel=3)
    if not isinstance(prior, Prior):
        raise ValueError(f"prior must be a splitdiff Prior or a registered name, got {type(prior).__name__}")
    if not isinstance(operator, Operator):
        raise ValueError(f"operator must be a splitdiff Operator or a registered name, got {type(operator).__name__}")
    return prior, operator



def _need_defaults(task, operator, **given) -> None:
    """A ValueError naming exactly the settings that have no paper default for ``task``."""
    if task in TASKS:
        return
    missing = [name for name, value in given.items() if value is None]
    if missing:
        raise ValueError(
            f"no paper defaults for task {task!r} ({type(operator).__name__}); pass "
            f"{', '.join(f'{name}=...' for name in missing)}, or task= one of {', '.join(TASKS)} to borrow its defaults"
        )


def _ddiff_step(task, dataset, gamma0, gamma, a, b, t_gamma, normalized) -> GradientStep:
    """DDiff's data step: ``gamma0 * (a if t > t_gamma else b)``, or a whole ``gamma`` schedule.

    Without either, gamma0 is Appendix H's, tuned for 3x256x256 images: the normalized step is
    scaled to the image being solved (``GradientStep(reference_numel=PAPER_NUMEL)``, the same
    step per element; the authors' exact values at 256x256). A given gamma0 / gamma is the
    step length itself.
    """
    if gamma is not None and gamma0 is not None:
        raise ValueError("give gamma0 (with the a / b / t_gamma policy) or a whole gamma schedule, not both")
    reference = tuned = None
    if gamma is None:
        if gamma0 is None:
            gamma0 = ddiff_defaults(task, dataset).gamma0
            reference = PAPER_NUMEL if normalized else None
            tuned = PAPER_ITERATIONS
        gamma = step_down(gamma0 * a, gamma0 * b, t_gamma)
    return GradientStep(gamma, normalized, reference_numel=reference, tuned_iterations=tuned)


def ddiff(
    prior: DiffusionPrior | str,
    operator: Operator | str,
    task: str | None = None,
    dataset: str = "ffhq",
    gamma0: float | None = None,
    t0: int | None = None,
    a: float = 3.3,
    b: float = 0.1,
    t_gamma: int = 90,
    gamma: Schedule | None = None,
    normalized: bool = True,
    renoise: NoiseRule | None = None,
    full_renoise_step: bool | None = None,
    dual: bool = True,
    steps: int = 1000,
    spacing: str = "uniform",
    clip: bool = True,
    order: str = "algorithm1",
) -> Solver:
    """DDiff (Algorithm 1) as the authors run it; defaults from Appendix H for ``task``.

    ``task`` defaults to the operator's task. Overrides: ``gamma0``, ``t0``, the a/b/t_gamma
    policy, a whole ``gamma`` schedule, ``renoise`` (the sigma_t rule of Eq. 12),
    ``full_renoise_step``, ``dual=False`` (drop the dual update), ``normalized``, ``clip``,
    ``order="admm"`` (standard ADMM's dual update, see ``splitting.Splitting``; Algorithm 1's
    order is the paper's and the authors' code's).
    """
    prior, operator = resolve_parts(prior, operator)
    task = task or operator.task
    if renoise is not None and full_renoise_step is not None:
        raise ValueError("give renoise (a sigma_t rule) or full_renoise_step, not both")
    _need_defaults(task, operator, gamma0=gamma0 if gamma is None else gamma, t0=t0,
                   full_renoise_step=full_renoise_step if renoise is None else renoise)
    if t0 is None:
        t0 = ddiff_defaults(task, dataset).t0
    if renoise is None:
        if full_renoise_step is None:
            full_renoise_step = ddiff_defaults(task, dataset).full_renoise
        renoise = full_renoise if full_renoise_step else ddim_sigma(1.0)
    return Solver(
        Splitting(_ddiff_step(task, dataset, gamma0, gamma, a, b, t_gamma, normalized), dual=dual, order=order),
        ManifoldStep(prior, renoise, t0=t0, clip=clip),
        operator, steps, spacing, name="ddiff",
    )


def ddiff_hqs(
    prior: DiffusionPrior | str,
    operator: Operator | str,
    task: str | None = None,
    gamma: Schedule | None = None,
    t0: int = 1,
    steps: int = 1000,
    spacing: str = "uniform",
    clip: bool = True,
) -> Solver:
    """DDiff-HQS (Table 2): no dual variable, fixed normalized step 90, DDIM eta = 1, noise for t > 1.

    The default step 90 is for 3x256x256 images and is scaled to the image being solved (as
    DDiff's gamma0); a given ``gamma`` is the step length itself. ``task`` is accepted (and
    unused) so that every Table 2 variant takes the same keywords.
    """
    prior, operator = resolve_parts(prior, operator)
    step = GradientStep(90.0, reference_numel=PAPER_NUMEL, tuned_iterations=PAPER_ITERATIONS) if gamma is None else GradientStep(gamma)
    return Solver(
        HQS(step),
        ManifoldStep(prior, ddim_sigma(1.0), t0=t0, clip=clip),
        operator, steps, spacing, name="ddiff-hqs",
    )


def _diff_pnp(dual: bool, name: str):
    def factory(
        prior: DiffusionPrior | str,
        operator: Operator | str,
        task: str | None = None,
        dataset: str = "ffhq",
        gamma0: float | None = None,
        a: float = 3.3,
        b: float = 0.1,
        t_gamma: int = 90,
        gamma: Schedule | None = None,
        normalized: bool = True,
        steps: int = 1000,
        spacing: str = "uniform",
        clip: bool = True,
        order: str = "admm",
    ) -> Solver:
        prior, operator = resolve_parts(prior, operator)
        _need_defaults(task or operator.task, operator, gamma0=gamma0 if gamma is None else gamma)
        step = _ddiff_step(task or operator.task, dataset, gamma0, gamma, a, b, t_gamma, normalized)
        return Solver(
            Splitting(step, dual=dual, order=order),
            DirectStep(prior, clip=clip),
            operator, steps, spacing, name=name,
        )

    factory.__name__ = name.replace("-", "_")
    return factory


diff_pnp_admm = _diff_pnp(True, "diff-pnp-admm")
diff_pnp_admm.__doc__ = """Diff-PnP-ADMM (Sec. 3.1, Table 2): standard ADMM whose z-update is the Tweedie estimate of
``x + u`` at decreasing t.

Eq. 3 -> Eq. 9 -> Eq. 6 with no re-noising; DDiff's data step and step schedule. The dual is updated with the new z, so it accumulates the residuals
(``order="admm"``; ``order="algorithm1"`` gives Algorithm 1's order instead)."""
diff_pnp_hqs = _diff_pnp(False, "diff-pnp-hqs")
diff_pnp_hqs.__doc__ = """Diff-PnP-HQS (Table 2): Diff-PnP-ADMM without the dual variable."""


@dataclass(frozen=True)
class DiffPIRRho:
    """DiffPIR's ``rho_t = lam sigma_n^2 / (sigma^2 sigma_bar_t^2)``, ``sigma_n = max(0.001, sigma / 2)``."""

    lam: float
    sigma: float

    def __call__(self, tl: Timeline) -> Tensor:
        sigma_n = max(0.001, self.sigma / 2)
        return self.lam * sigma_n**2 / (self.sigma**2 * tl.sigma_bar**2)


@dataclass(frozen=True)
class InverseSquare:
    """``rho_k = 1 / sigma_k^2`` for a denoiser schedule ``denoiser_sigma`` (plug-and-play)."""

    denoiser_sigma: Schedule

    def __call__(self, tl: Timeline) -> Tensor:
        return 1.0 / schedule_values(self.denoiser_sigma, tl, "denoiser_sigma") ** 2


def diffpir_rho(lam: float, sigma: float) -> DiffPIRRho:
    """DiffPIR's data weight ``rho_t = lam sigma_n^2 / sigma_bar_t^2`` in ``ProximalStep``'s convention.

    The authors (``main_ddpir_sisr.py:49, 216-235``) take ``sigma_n = max(0.001, s)`` with ``s``
    the noise std on the [0, 1] scale (half splitdiff's ``sigma``, which is on [-1, 1]) and
    solve ``argmin ||y - A x||^2 + rho_t ||x - v||^2``; ``ProximalStep`` solves
    ``||y - A x||^2 / (2 sigma^2) + rho / 2 ||x - v||^2``, the same problem for
    ``rho = rho_t / sigma^2``. So the same ``lam`` gives the authors' step: for sigma >= 0.002
    ``rho = lam / (4 sigma_bar_t^2)``.
    """
    return DiffPIRRho(float(lam), float(sigma))


def diffpir(
    prior: DiffusionPrior | str,
    operator: Operator | str,
    task: str | None = None,
    lam: float | None = None,
    zeta: float | None = None,
    mode: str = "auto",
    steps: int | None = None,
    spacing: str = "quad",
    start: str = "measurement",
    t0: int = 0,
    clip: bool = True,
) -> Solver:
    """DiffPIR (Zhu et al. 2023) as the authors run it: HQS with a proximal data step and zeta
    re-noising over 'quad' timesteps.

    The data weight is ``rho_t = lam sigma_n^2 / sigma_bar_t^2`` (``diffpir_rho``: the same
    ``lam`` means the same step as theirs); the timesteps are 999, 899, 857, ..., 10, 5, 0 for
    100 steps.

    ``lam``, ``zeta`` and ``steps`` default to the authors' per-task values
    (``algorithms.diffpir_defaults``): SR 6 / 0.25 / 100, deblurring 7 / 0.3 / 100, inpainting
    1 / 1.0 / 20. ``start="measurement"``: the authors' start, the measurement diffused to
    t = T (``DiffusedMeasurement``; pure noise for operators without an image view of y);
    ``"gaussian"``: x_T ~ N(0, I). ``mode``: 'exact' proximal step (linear operators),
    'gradient' (one gradient step of the same objective, as their ``main_ddpir.py:421-427``
    for SR), or 'auto'. The authors also call the network at t = 0 and discard its output:
    ``steps`` timesteps make ``steps - 1`` network calls here, ``steps`` there, with the same
    result.
    """
    prior, operator = resolve_parts(prior, operator)
    defaults = diffpir_defaults(task or operator.task)
    lam = defaults.lam if lam is None else lam
    zeta = defaults.zeta if zeta is None else zeta
    steps = defaults.steps if steps is None else steps
    if start not in ("measurement", "gaussian"):
        raise ValueError(f"start must be 'measurement' (the authors') or 'gaussian', got {start!r}")
    init = DiffusedMeasurement(operator, prior.schedule) if start == "measurement" else "gaussian"
    return Solver(
        HQS(ProximalStep(diffpir_rho(lam, operator.sigma), mode)),
        ManifoldStep(prior, zeta_sigma(zeta), t0=t0, clip=clip),
        operator, steps, spacing, init=init, name="diffpir",
    )


def _pnp(dual: bool, name: str):
    def factory(
        prior: Prior | str,
        operator: Operator | str,
        denoiser_sigma_start: float = 0.3,
        denoiser_sigma_end: float = 0.03,
        denoiser_sigma: Schedule | None = None,
        mode: str = "auto",
        steps: int = 40,
        clip: bool = True,
    ) -> Solver:
        prior, operator = resolve_parts(prior, operator)
        sig = geometric(denoiser_sigma_start, denoiser_sigma_end) if denoiser_sigma is None else denoiser_sigma
        rho = InverseSquare(sig) if callable(sig) else 1.0 / float(sig) ** 2
        return Solver(
            Splitting(ProximalStep(rho, mode), dual=dual, order="admm"),
            DirectStep(prior, denoiser_sigma=sig, clip=clip),
            operator, steps, init="zeros", name=name,
        )

    factory.__name__ = name.replace("-", "_")
    return factory


def latent_ddiff(
    prior: LatentDiffusionPrior | str,
    operator: Operator | str,
    consistency: str = "latent",
    quantize: bool = True,
    task: str | None = None,
    dataset: str = "ffhq",
    gamma0: float | None = None,
    clamp_gradient: float | None = None,
    **options,
) -> Solver:
    """LatentDDiff (Sec. 3.3): DDiff on the latents of a ``LatentDiffusionPrior``.

    ``consistency="latent"``: the data step differentiates ``A(D(z))`` through the decoder
    (DAPS's latent wrapper); ``"pixel"``: decode, take the data step on the image, encode
    (ReSample). The result is decoded to an image. ``gamma0`` defaults to Appendix H's value
    scaled to the variable the step moves (as ``ddiff``): in latent mode the latent (3x64x64
    for 256x256 images with a factor-4 autoencoder: a quarter of the pixel step), in pixel mode
    the image (a normalized step's length scales with the norm of the variable: [derived],
    Appendix C was not available).

    ``clamp_gradient``: clamp each element of the data gradient ``grad ||y - A(D(z))||^2`` to
    ``[-c, c]`` before the step (latent consistency only), as DAPS's latent wrapper does with ``c = 1``
    (``GradientStep(clamp=...)``). Off by default: DDiff's step is normalized, so its length
    is ``gamma`` whatever the gradient's size (the clamp guards DAPS's unnormalized Langevin
    step against decoder gradients that blow up); a clamp would only bend its direction, and
    Appendix C, which would say whether the authors kept it, is not available.
    Other keywords are ``ddiff``'s.
    """
    from ..operators.latent import LatentOperator

    prior, operator = resolve_parts(prior, operator)
    if not isinstance(prior, LatentDiffusionPrior):
        raise ValueError(f"latent-ddiff needs a LatentDiffusionPrior (e.g. priors.build('ldm', ...)), got {type(prior).__name__}")
    if consistency not in ("latent", "pixel"):
        raise ValueError(f"consistency must be 'latent' or 'pixel', got {consistency!r}")
    if clamp_gradient is not None and consistency != "latent":
        raise ValueError("clamp_gradient clamps the latent data gradient: it needs consistency='latent'")
    task = task or operator.task
    solver = ddiff(prior, LatentOperator(operator, prior, quantize), task=task, dataset=dataset, gamma0=gamma0,
                   clip=False, **options)
    step = solver.splitting.data_step
    solver.splitting.data_step = GradientStep(step.gamma, step.normalized, clamp_gradient, step.reference_numel,
                                                step.tuned_iterations)
    if consistency == "pixel":
        solver.splitting.data_step = PixelSpaceStep(solver.splitting.data_step)
    solver.name = "latent-ddiff"
    solver.finish = lambda z: prior.decode(z, quantize=quantize)
    return solver


pnp_admm = _pnp(True, "pnp-admm")
pnp_admm.__doc__ = """Plug-and-play ADMM (Venkatakrishnan et al. 2013): standard ADMM order (x = prox(z - u),
z = D(x + u), u += x - z), exact proximal data step, a denoiser at an annealed sigma (0.3 -> 0.03)."""
pnp_hqs = _pnp(False, "pnp-hqs")
pnp_hqs.__doc__ = """Plug-and-play HQS: pnp-admm without the dual variable."""

__all__ = ["ddiff", "ddiff_hqs", "diff_pnp_admm", "diff_pnp_hqs", "diffpir", "latent_ddiff", "pnp_admm", "pnp_hqs"]

