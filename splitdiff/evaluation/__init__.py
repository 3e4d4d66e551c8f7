"""Evaluation: the paper's metrics (PSNR, SSIM, LPIPS, residual) and image helpers."""

from .images import load_image, save_image, to_uint8
from .metrics import LPIPSWeightsMissing, lpips_distance, psnr, residual, ssim

__all__ = ["psnr", "ssim", "lpips_distance", "residual", "LPIPSWeightsMissing", "load_image", "save_image", "to_uint8"]
