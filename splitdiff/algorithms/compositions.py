"""The registered compositions. Each is a few lines: a splitting, a data step, a prior step.

| name            | splitting | data step                                   | prior step                    |
|-----------------|-----------|---------------------------------------------|-------------------------------|
| ddiff           | ADMM      | normalized gradient, gamma0 * (a | b)       | manifold, DDIM / full renoise |
| ddiff-hqs       | HQS       | normalized gradient, 90                     | manifold, DDIM eta = 1        |
| diff-pnp-admm   | ADMM      | as ddiff                                    | direct Tweedie of x + u       |
| diff-pnp-hqs    | HQS       | as ddiff                                    | direct Tweedie of x           |
| diffpir         | HQS       | proximal, rho_t = lam / sigma_bar_t^2       | manifold, zeta                |
| latent-ddiff    | ADMM      | as ddiff, through the decoder or in pixels  | manifold, in latent space     |
| pnp-admm        | ADMM      | exact proximal, rho_k = 1 / sigma_k^2       | classical denoiser at sigma_k |
| pnp-hqs         | HQS       | exact proximal, rho_k = 1 / sigma_k^2       | classical denoiser at sigma_k |
"""

from __future__ import annotations

from ..operators.base import Operator
from ..priors.base import DiffusionPrior, Prior
from ..priors.latent import LatentDiffusionPrior
from ..splitting.data_step import GradientStep, ProximalStep
from ..splitting.loop import HQS, Splitting
from ..splitting.pixel_step import PixelSpaceStep
from ..splitting.prior_step import DirectStep, ManifoldStep, NoiseRule, ddim_sigma, full_renoise, zeta_sigma
from ..splitting.timeline import Schedule, geometric, step_down
from .defaults import ddiff_defaults, diffpir_defaults
from .solver import Solver


def _parts(prior: Prior | str, operator: Operator | str) -> tuple[Prior, Operator]:
    from .. import operators, priors

    prior = priors.build(prior) if isinstance(prior, str) else prior
    operator = operators.build(operator) if isinstance(operator, str) else operator
    if not isinstance(prior, Prior):
        raise ValueError(f"prior must be a splitdiff Prior or a registered name, got {type(prior).__name__}")
    if not isinstance(operator, Operator):
        raise ValueError(f"operator must be a splitdiff Operator or a registered name, got {type(operator).__name__}")
    return prior, operator


def _ddiff_step(task, dataset, gamma0, a, b, t_gamma) -> Schedule:
    """DDiff's step schedule ``gamma0 * (a if t > t_gamma else b)``, gamma0 from Appendix H by default."""
    if gamma0 is None:
        gamma0 = ddiff_defaults(task, dataset).gamma0
    return step_down(gamma0 * a, gamma0 * b, t_gamma)


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
    sigma: NoiseRule | None = None,
    full_renoise_step: bool | None = None,
    dual: bool = True,
    steps: int = 1000,
    spacing: str = "uniform",
    clip: bool = True,
) -> Solver:
    """DDiff (Algorithm 1) as the authors run it; defaults from Appendix H for ``task``.

    ``task`` defaults to the operator's task. Overrides: ``gamma0``, ``t0``, the a/b/t_gamma
    policy, a whole ``gamma`` schedule, ``sigma`` (the sigma_t rule of Eq. 12),
    ``full_renoise_step``, ``dual=False`` (drop the dual update), ``normalized``, ``clip``.
    """
    prior, operator = _parts(prior, operator)
    task = task or operator.task
    if t0 is None:
        t0 = ddiff_defaults(task, dataset).t0
    if sigma is None:
        if full_renoise_step is None:
            full_renoise_step = ddiff_defaults(task, dataset).full_renoise
        sigma = full_renoise if full_renoise_step else ddim_sigma(1.0)
    if gamma is None:
        gamma = _ddiff_step(task, dataset, gamma0, a, b, t_gamma)
    return Solver(
        Splitting(GradientStep(gamma, normalized), dual=dual),
        ManifoldStep(prior, sigma, t0=t0, clip=clip),
        operator, steps, spacing, name="ddiff",
    )


def ddiff_hqs(
    prior: DiffusionPrior | str,
    operator: Operator | str,
    task: str | None = None,
    gamma: Schedule = 90.0,
    t0: int = 1,
    steps: int = 1000,
    spacing: str = "uniform",
    clip: bool = True,
) -> Solver:
    """DDiff-HQS (Table 2): no dual variable, fixed normalized step 90, DDIM eta = 1, noise for t > 1.

    ``task`` is accepted (and unused) so that every Table 2 variant takes the same keywords.
    """
    prior, operator = _parts(prior, operator)
    return Solver(
        HQS(GradientStep(gamma, normalized=True)),
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
    ) -> Solver:
        prior, operator = _parts(prior, operator)
        if gamma is None:
            gamma = _ddiff_step(task or operator.task, dataset, gamma0, a, b, t_gamma)
        return Solver(
            Splitting(GradientStep(gamma, normalized), dual=dual),
            DirectStep(prior, clip=clip),
            operator, steps, spacing, name=name,
        )

    factory.__name__ = name.replace("-", "_")
    return factory


diff_pnp_admm = _diff_pnp(True, "diff-pnp-admm")
diff_pnp_admm.__doc__ = """Diff-PnP-ADMM (Eq. 9, Table 2): Tweedie of ``x + u`` at decreasing t, no re-noising;
DDiff's data step and step schedule."""
diff_pnp_hqs = _diff_pnp(False, "diff-pnp-hqs")
diff_pnp_hqs.__doc__ = """Diff-PnP-HQS (Table 2): Diff-PnP-ADMM without the dual variable."""


def diffpir(
    prior: DiffusionPrior | str,
    operator: Operator | str,
    task: str | None = None,
    lam: float | None = None,
    zeta: float | None = None,
    mode: str = "auto",
    steps: int = 100,
    spacing: str = "quad",
    t0: int = 0,
    clip: bool = True,
) -> Solver:
    """DiffPIR (Zhu et al. 2023): HQS with ``rho_t = lam / sigma_bar_t^2`` and zeta re-noising.

    ``mode``: 'exact' proximal step (linear operators), 'gradient' (one step), or 'auto'.
    """
    prior, operator = _parts(prior, operator)
    if lam is None or zeta is None:
        d_lam, d_zeta = diffpir_defaults(task or operator.task)
        lam = d_lam if lam is None else lam
        zeta = d_zeta if zeta is None else zeta
    return Solver(
        HQS(ProximalStep(lambda tl: lam / tl.sigma_bar**2, mode)),
        ManifoldStep(prior, zeta_sigma(zeta), t0=t0, clip=clip),
        operator, steps, spacing, name="diffpir",
    )


def _pnp(dual: bool, name: str):
    def factory(
        prior: Prior | str,
        operator: Operator | str,
        sigma_start: float = 0.3,
        sigma_end: float = 0.03,
        sigma: Schedule | None = None,
        mode: str = "auto",
        steps: int = 40,
        clip: bool = True,
    ) -> Solver:
        prior, operator = _parts(prior, operator)
        sig = geometric(sigma_start, sigma_end) if sigma is None else sigma
        rho = (lambda tl: 1.0 / sig(tl) ** 2) if callable(sig) else 1.0 / float(sig) ** 2
        return Solver(
            Splitting(ProximalStep(rho, mode), dual=dual),
            DirectStep(prior, sigma=sig, clip=clip),
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
    **options,
) -> Solver:
    """LatentDDiff (Sec. 3.3): DDiff on the latents of a ``LatentDiffusionPrior``.

    ``consistency="latent"``: the data step differentiates ``A(D(z))`` through the decoder
    (DAPS's latent wrapper); ``"pixel"``: decode, take the data step on the image, encode
    (ReSample). The result is decoded to an image. ``gamma0`` defaults to Appendix H's value,
    divided by the autoencoder's downsampling factor in latent mode (a normalized step's
    length scales with the norm of the variable: [derived], Appendix C was not available).
    Other keywords are ``ddiff``'s.
    """
    from ..operators.latent import LatentOperator

    prior, operator = _parts(prior, operator)
    if not isinstance(prior, LatentDiffusionPrior):
        raise ValueError(f"latent-ddiff needs a LatentDiffusionPrior (e.g. priors.build('ldm', ...)), got {type(prior).__name__}")
    if consistency not in ("latent", "pixel"):
        raise ValueError(f"consistency must be 'latent' or 'pixel', got {consistency!r}")
    task = task or operator.task
    if gamma0 is None and options.get("gamma") is None:
        gamma0 = ddiff_defaults(task, dataset).gamma0 / (prior.factor if consistency == "latent" else 1)
    solver = ddiff(prior, LatentOperator(operator, prior, quantize), task=task, dataset=dataset, gamma0=gamma0,
                   clip=False, **options)
    if consistency == "pixel":
        solver.splitting.data_step = PixelSpaceStep(solver.splitting.data_step)
    solver.name = "latent-ddiff"
    solver.finish = lambda z: prior.decode(z, quantize=quantize)
    return solver


pnp_admm = _pnp(True, "pnp-admm")
pnp_admm.__doc__ = """Plug-and-play ADMM: exact proximal data step, a denoiser at an annealed sigma (0.3 -> 0.03)."""
pnp_hqs = _pnp(False, "pnp-hqs")
pnp_hqs.__doc__ = """Plug-and-play HQS: pnp-admm without the dual variable."""

__all__ = ["ddiff", "ddiff_hqs", "diff_pnp_admm", "diff_pnp_hqs", "diffpir", "latent_ddiff", "pnp_admm", "pnp_hqs"]

