"""Per-task defaults from the papers: DDiff's Appendix H and DiffPIR's settings."""

from __future__ import annotations

from dataclasses import dataclass

DATASETS = ("ffhq", "imagenet")

#: The image the paper's step sizes are tuned for (3 x 256 x 256) and its number of elements:
#: DDiff's default steps are scaled by ``sqrt(D / PAPER_NUMEL)`` for images of D elements.
PAPER_IMAGE_SHAPE = (3, 256, 256)
PAPER_NUMEL = 3 * 256 * 256
#: The number of iterations the paper's step sizes are tuned for: the authors run all 1000
#: timesteps, 999 transitions (``steps=1000`` here). The ``t_gamma = 90`` switch counts the
#: model's timesteps at any respacing: the small step once the noise is that of t <= 90.
PAPER_ITERATIONS = 999


@dataclass(frozen=True)
class DDiffDefaults:
    """DDiff's step size ``gamma0`` (for 3x256x256 images), noise threshold ``t0`` and re-noising
    rule for one task."""

    gamma0: float
    t0: int
    full_renoise: bool


#: Appendix H (via the authors' README/scripts): (gamma0, t0) per task and dataset.
#: Full re-noising (sigma_t = sqrt(1 - a_prev)) for SR, inpainting and phase retrieval.
_DDIFF = {
    "super_resolution": ((18, 1), (18, 1), True),
    "box_inpainting": ((30, 1), (50, 1), True),
    "random_inpainting": ((50, 1), (50, 1), True),
    "gaussian_blur": ((2.9, 50), (1.8, 50), False),
    "motion_blur": ((2.9, 80), (1.5, 80), False),
    "phase_retrieval": ((38, 1), (38, 1), True),
    "nonlinear_blur": ((2.5, 120), (2.5, 120), False),
    "hdr": ((3.5, 120), (3.8, 100), False),
}

TASKS = tuple(_DDIFF)

@dataclass(frozen=True)
class DiffPIRDefaults:
    """DiffPIR's data weight ``lam``, re-noising ``zeta`` and number of timesteps for one task."""

    lam: float
    zeta: float
    steps: int


#: DiffPIR's settings as the experiment loops of its scripts run them (yuanzhi-zhu/DiffPIR
#: 111d26e): deblurring lam 7, zeta 0.3, 100 steps (``main_ddpir_deblur.py:440-442``);
#: inpainting lam 1, zeta 1.0, 20 steps (``main_ddpir_inpainting.py:55, 385-388``, noiseless);
#: SR zeta 0.25, 100 steps, lam swept over 2..12 (``main_ddpir_sisr.py:482-485``): we take 6.
#: Tasks DiffPIR did not run take the deblurring values.
_DIFFPIR = {
    "super_resolution": DiffPIRDefaults(6.0, 0.25, 100),
    "box_inpainting": DiffPIRDefaults(1.0, 1.0, 20),
    "random_inpainting": DiffPIRDefaults(1.0, 1.0, 20),
    "gaussian_blur": DiffPIRDefaults(7.0, 0.3, 100),
    "motion_blur": DiffPIRDefaults(7.0, 0.3, 100),
}
_DIFFPIR_FALLBACK = DiffPIRDefaults(7.0, 0.3, 100)


def _check_task(task: str | None) -> str:
    if task not in _DDIFF:
        raise ValueError(
            f"no paper defaults for task {task!r}; known tasks: {', '.join(TASKS)}. "
            "Pass the values explicitly (e.g. gamma0=..., t0=...) for other operators"
        )
    return task


def ddiff_defaults(task: str | None, dataset: str = "ffhq") -> DDiffDefaults:
    """DDiff's Appendix H values for ``task`` on ``dataset`` ('ffhq' or 'imagenet')."""
    task = _check_task(task)
    if dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {', '.join(DATASETS)}, got {dataset!r}")
    ffhq, imagenet, full = _DDIFF[task]
    gamma0, t0 = ffhq if dataset == "ffhq" else imagenet
    return DDiffDefaults(float(gamma0), int(t0), full)


def diffpir_defaults(task: str | None) -> DiffPIRDefaults:
    """DiffPIR's (lam, zeta, steps) for ``task``."""
    return _DIFFPIR.get(_check_task(task), _DIFFPIR_FALLBACK)


def paper_default(table: dict, task: str | None, what: str, keyword: str):
    """``table[task]``, or a ValueError that names the known tasks and the keyword to pass."""
    if task not in table:
        raise ValueError(f"no {what} for task {task!r}; pass {keyword}=... (known tasks: {', '.join(table)})")
    return table[task]
