"""Paired image quality: PSNR and SSIM on uint8 images (data range 255)."""

from __future__ import annotations

from typing import cast

import numpy as np
import torch

from ganlab.errors import GanlabError


def _pair(
    a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    ta = torch.as_tensor(np.asarray(a)).double()
    tb = torch.as_tensor(np.asarray(b)).double()
    if ta.shape != tb.shape or ta.ndim != 4:
        raise GanlabError(
            f"PSNR/SSIM need two (N,C,H,W) batches of one shape, got {ta.shape} and {tb.shape}"
        )
    return ta, tb


def psnr(a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor) -> float:
    """Mean over images of 10 log10(255^2 / MSE)."""
    from torchmetrics.functional.image import peak_signal_noise_ratio  # slow import: on use

    ta, tb = _pair(a, b)
    values = peak_signal_noise_ratio(ta, tb, data_range=255.0, reduction="none", dim=(1, 2, 3))
    return float(values.mean())


def ssim(a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor) -> float:
    """Mean SSIM, Gaussian window 11, sigma 1.5, K1=0.01, K2=0.03, data range 255."""
    from torchmetrics.functional.image import structural_similarity_index_measure

    ta, tb = _pair(a, b)
    # one tensor (a tuple only with return_full_image=True)
    value = cast(torch.Tensor, structural_similarity_index_measure(ta, tb, data_range=255.0))
    return float(value)
