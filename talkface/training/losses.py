"""Image losses the trainers share."""

from __future__ import annotations

import torch
from torch.nn import functional as F


def ssim_loss(a: torch.Tensor, b: torch.Tensor, window: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """``1 - SSIM(a, b)`` (Wang et al. 2004, eq. 13, constants for images in [0, 1]) averaged over
    pixels and channels; ``a``, ``b``: ``(B, C, H, W)`` float in [0, 1]."""
    c = a.shape[1]
    x = torch.arange(window, dtype=a.dtype, device=a.device) - window // 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    g = g / g.sum()
    # The Gaussian window is separable: one pass along rows and one along columns, over the five
    # maps at once (a, b, a^2, b^2, ab), instead of a window x window kernel per map.
    maps = torch.cat([a, b, a * a, b * b, a * b], dim=1)
    rows = g.view(1, 1, 1, window).expand(5 * c, 1, 1, window)
    cols = g.view(1, 1, window, 1).expand(5 * c, 1, window, 1)
    blurred = F.conv2d(maps, rows, padding=(0, window // 2), groups=5 * c)
    blurred = F.conv2d(blurred, cols, padding=(window // 2, 0), groups=5 * c)
    mu_a, mu_b, aa, bb, ab = blurred.split(c, dim=1)
    var_a = aa - mu_a**2
    var_b = bb - mu_b**2
    cov = ab - mu_a * mu_b
    c1, c2 = 0.01**2, 0.03**2
    ssim = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return 1 - ssim.mean()
