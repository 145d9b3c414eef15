"""The PatchGAN discriminator of pix2pix (Isola et al., 2017) and CycleGAN.

A fully convolutional critic: ``n_layers`` stride-2 4x4 convolutions (widths ``width``,
``2 width``, ... capped at ``8 width``), one stride-1 4x4 convolution, and a stride-1 4x4
convolution to one channel. Each output is the score of one input patch; the patch size is
the receptive field of an output unit, :func:`receptive_field` (70 pixels at
``n_layers=3``: pix2pix's "70x70 PatchGAN"; 1 layer: 16, 2: 34, 4: 142, 5: 286).

The first convolution has no normalisation (as in the paper); the others are followed by
``norm`` (``instance``: InstanceNorm without affine parameters as in the CycleGAN code,
``batch``, or ``none``) and LeakyReLU(0.2). ``spectral=True`` wraps every convolution in
spectral normalisation (then ``norm`` is usually ``none``).

An image must be large enough for the last convolutions: with padding 1, a 4x4 stride-1
convolution shrinks a map by one pixel, so the input needs at least
:func:`min_input_size` pixels a side (24 at ``n_layers=3``, 12 at 2; 28-pixel images work
at ``n_layers <= 3``).
"""

from __future__ import annotations

from torch import Tensor, nn

from ganlab.errors import GanlabError
from ganlab.nn.layers import maybe_sn

NORMS = ("instance", "batch", "none")
KERNEL = 4
PADDING = 1


def conv_specs(n_layers: int) -> list[tuple[int, int]]:
    """``(kernel, stride)`` of every convolution of a PatchGAN with ``n_layers`` stride-2
    layers, input to output: what both the network and :func:`receptive_field` are built
    from."""
    if n_layers < 1:
        raise GanlabError(f"PatchGAN n_layers: must be >= 1, got {n_layers}")
    return [(KERNEL, 2)] * n_layers + [(KERNEL, 1), (KERNEL, 1)]


def receptive_field(n_layers: int) -> int:
    """The side, in input pixels, of the patch one output unit sees, computed from
    :func:`conv_specs` backwards: ``r <- (r - 1) * stride + kernel`` from ``r = 1``."""
    r = 1
    for kernel, stride in reversed(conv_specs(n_layers)):
        r = (r - 1) * stride + kernel
    return r


def min_input_size(n_layers: int) -> int:
    """The smallest square input that still gives a 1x1 output map."""
    size = 1
    for kernel, stride in reversed(conv_specs(n_layers)):
        # output o = floor((i + 2p - k) / s) + 1  ->  smallest i with o >= size
        size = max(1, (size - 1) * stride + kernel - 2 * PADDING)
    return size


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=False)
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    return nn.Identity()


class PatchDiscriminator(nn.Module):
    """``D(x) -> (N, 1, h, w)`` patch logits for images ``x`` (N, in_channels, H, W).

    For a conditional (pix2pix) critic, ``in_channels`` is the input's channels plus the
    output's, and the caller concatenates them along the channel axis.
    """

    def __init__(self, in_channels: int, width: int = 64, n_layers: int = 3,
                 norm: str = "instance", spectral: bool = False) -> None:
        super().__init__()
        if norm not in NORMS:
            raise GanlabError(f"PatchGAN norm: must be one of {', '.join(NORMS)}, got {norm!r}")
        if in_channels < 1 or width < 1:
            raise GanlabError(f"PatchGAN: in_channels and width must be >= 1, got "
                              f"{in_channels}, {width}")
        specs = conv_specs(n_layers)
        self.n_layers = n_layers
        self.in_channels = in_channels
        layers: list[nn.Module] = []
        c_in = in_channels
        for i, (kernel, stride) in enumerate(specs):
            last = i == len(specs) - 1
            c_out = 1 if last else width * min(2 ** i, 8)
            bias = last or i == 0 or norm != "batch"
            layers.append(maybe_sn(nn.Conv2d(c_in, c_out, kernel, stride, PADDING, bias=bias),
                                   spectral))
            if not last:
                if i > 0:
                    layers.append(_norm(norm, c_out))
                layers.append(nn.LeakyReLU(0.2, inplace=True))
            c_in = c_out
        self.net = nn.Sequential(*layers)

    @property
    def receptive_field(self) -> int:
        return receptive_field(self.n_layers)

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[1] != self.in_channels:
            raise GanlabError(f"PatchGAN: expected {self.in_channels} input channels, got "
                              f"{x.shape[1]}")
        need = min_input_size(self.n_layers)
        if min(x.shape[-2:]) < need:
            raise GanlabError(f"PatchGAN: a {self.n_layers}-layer critic needs inputs of at "
                              f"least {need}x{need} pixels, got {tuple(x.shape[-2:])}; use "
                              "fewer layers")
        return self.net(x)
