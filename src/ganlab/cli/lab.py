"""``ganlab lab``: small experiments that make the theory behind GAN objectives visible.

``ganlab lab supports`` reproduces the example of Arjovsky et al. (2017, "Wasserstein GAN",
Example 1): real points on the segment ``{0} x [0, 1]``, fake points on ``{theta} x [0, 1]``
(the same heights, shifted by ``theta``). While ``theta != 0`` the two supports are disjoint:
JS sits at ``log 2`` and KL is infinite (binned: huge), whatever ``theta`` is, so neither tells a
generator which way to move. W1 equals ``|theta|``: it shrinks smoothly as the sets approach.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

DEFAULT_THETAS = (2.0, 1.5, 1.0, 0.75, 0.5, 0.25, 0.1, 0.05, 0.01, 0.0)


def supports_table(thetas: tuple[float, ...] = DEFAULT_THETAS, n: int = 500, bins: int = 50,
                   seed: int = 0) -> list[dict[str, float]]:
    """JS, KL (binned) and W1 (exact, and sliced) between the two segments for each theta."""
    import torch  # imported here so that `ganlab --help` does not pay for it

    from ganlab.metrics.divergences import binned_js, binned_kl, sliced_wasserstein1, wasserstein1

    g = torch.Generator().manual_seed(seed)
    heights = torch.rand(n, generator=g, dtype=torch.float64)
    real = torch.stack([torch.zeros(n, dtype=torch.float64), heights], 1)
    rows = []
    for theta in thetas:
        fake = real + torch.tensor([theta, 0.0], dtype=torch.float64)
        rows.append({"theta": float(theta),
                     "js": binned_js(real, fake, bins=bins),
                     "kl": binned_kl(fake, real, bins=bins),
                     "w1": wasserstein1(real, fake),
                     "sliced_w1": sliced_wasserstein1(real, fake)})
    return rows


def format_table(rows: list[dict[str, float]]) -> str:
    lines = [f"{'theta':>7}  {'JS (nats)':>9}  {'KL(fake||real)':>14}  {'W1':>8}  {'sliced W1':>9}"]
    for r in rows:
        lines.append(f"{r['theta']:>7.3f}  {r['js']:>9.4f}  {r['kl']:>14.3f}  {r['w1']:>8.4f}  "
                     f"{r['sliced_w1']:>9.4f}")
    lines.append(f"(log 2 = {math.log(2):.4f}. KL of disjoint sets is infinite; the binned "
                 "estimate with eps = 1e-10 stays at one large constant.\n"
                 "Sliced W1 is (2/pi)|theta| for "
                 "a shift, exact W1 is |theta|.)")
    return "\n".join(lines)


def plot_supports(rows: list[dict[str, float]], out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    th = [r["theta"] for r in rows]
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6), dpi=100)
    axes[0].plot(th, [r["js"] for r in rows], "o-", label="binned JS")
    axes[0].axhline(math.log(2), color="gray", ls="--", label="log 2")
    axes[0].set_title("Jensen-Shannon: flat until the supports meet")
    axes[1].plot(th, [r["kl"] for r in rows], "o-", color="C3", label="binned KL(fake || real)")
    axes[1].set_title("KL: infinite (here: eps-capped) while disjoint")
    axes[2].plot(th, [r["w1"] for r in rows], "o-", color="C2", label="exact W1")
    axes[2].plot(th, [r["sliced_w1"] for r in rows], "s--", color="C4", ms=4, label="sliced W1")
    axes[2].plot(th, [abs(t) for t in th], ":", color="gray", label="|theta|")
    axes[2].set_title("Wasserstein-1: shrinks linearly with |theta|")
    for ax in axes:
        ax.set_xlabel("theta (fake = real shifted by theta)")
        ax.legend(fontsize=8)
    fig.suptitle("real on x = 0, fake on x = theta (Arjovsky et al. 2017, Example 1)", fontsize=10)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out


def cmd_supports(args: argparse.Namespace) -> int:
    rows = supports_table(n=args.n, bins=args.bins, seed=args.seed)
    print(format_table(rows))
    if args.out:
        path = plot_supports(rows, Path(args.out))
        print(f"figure: {path}")
    return 0


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    lab = subparsers.add_parser("lab",
                                help="small experiments that show why GANs behave as they do")
    lab_sub = lab.add_subparsers(dest="lab_command", metavar="EXPERIMENT")
    lab.set_defaults(func=lambda args: (lab.print_help(), 0)[1])

    p = lab_sub.add_parser(
        "supports",
        help="JS and KL saturate on disjoint supports, W1 keeps measuring the distance",
        description="Real points on the line x = 0, fake points on x = theta; theta swept from "
                    "2 to 0. Prints binned JS, binned KL and exact W1 for each theta.")
    p.add_argument("--out", default=None, metavar="FIG.png", help="also write a figure")
    p.add_argument("--n", type=int, default=500, help="points per set (default 500)")
    p.add_argument("--bins", type=int, default=50, help="histogram bins per axis (default 50)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_supports)
