"""2-D snapshots: real vs generated points over the discriminator's output as a heat map."""

from __future__ import annotations

from pathlib import Path

import matplotlib

from ganlab.atomic import write_atomically

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from torch import Tensor, nn  # noqa: E402


@torch.no_grad()
def discriminator_map(D: nn.Module, bounds: tuple[float, float, float, float],
                      res: int = 120, critic: bool = False) -> Tensor:
    """D evaluated on a ``res x res`` grid over ``bounds``: probabilities, or raw critic scores."""
    x0, x1, y0, y1 = bounds
    xs = torch.linspace(x0, x1, res)
    ys = torch.linspace(y0, y1, res)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    pts = torch.stack([gx.flatten(), gy.flatten()], 1)
    was = D.training
    D.eval()
    device = next(iter(D.parameters()), pts).device
    out = D(pts.to(device)).float().cpu()
    D.train(was)
    out = out if critic else torch.sigmoid(out)
    return out.reshape(res, res)


def save_scatter(path: Path, real: Tensor, fake: Tensor, D: nn.Module | None,
                 bounds: tuple[float, float, float, float], critic: bool = False,
                 title: str = "") -> Path:
    """Write a PNG: D's heat map (if given), real points (black) and generated points (red)."""
    fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
    if D is not None:
        heat = discriminator_map(D, bounds, critic=critic)
        im = ax.imshow(heat.numpy(), origin="lower", extent=bounds, cmap="viridis",
                       alpha=0.8, aspect="auto")
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04,
                     label="critic score" if critic else "D(x)")
    real, fake = real.cpu(), fake.cpu()
    ax.scatter(real[:, 0], real[:, 1], s=2, c="black", alpha=0.5, label="real")
    ax.scatter(fake[:, 0], fake[:, 1], s=2, c="red", alpha=0.5, label="generated")
    ax.set_xlim(bounds[0], bounds[1])
    ax.set_ylim(bounds[2], bounds[3])
    ax.set_aspect("equal")
    ax.legend(loc="upper right", markerscale=4, fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    write_atomically(path, lambda tmp: fig.savefig(tmp, format="png"))
    plt.close(fig)
    return Path(path)
