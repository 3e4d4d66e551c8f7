"""Evaluation: the paper's metrics (PSNR, SSIM, LPIPS, residual), image helpers, and
``splitdiff evaluate`` (``config``, ``data``, ``store``, ``runner``, ``tables``, ``figures``,
``report``; imported on use, so that ``import splitdiff`` does not load Lightning)."""

from .images import as_image, load_image, measurement_preview, save_image, score, to_uint8
from .metrics import LPIPSWeightsMissing, lpips_distance, psnr, residual, ssim
from .posterior import PosteriorSummary, calibration, summarize

__all__ = ["psnr", "ssim", "lpips_distance", "residual", "LPIPSWeightsMissing", "load_image", "save_image", "to_uint8",
           "as_image", "measurement_preview", "score", "PosteriorSummary", "summarize", "calibration"]
