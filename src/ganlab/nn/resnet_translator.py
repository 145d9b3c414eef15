"""The ResNet-block image-to-image generator of CycleGAN (Zhu et al., 2017; Johnson et al., 2016).

Layout, in the paper's notation for ``width`` k = 64 and two downsamplings:
``c7s1-k, d2k, d4k, R4k x n_blocks, u2k, uk, c7s1-C_out``: a 7x7 stride-1 convolution, stride-2
3x3 convolutions down, residual blocks (two reflection-padded 3x3 convolutions each), stride-2
transposed convolutions up, a 7x7 convolution to the output channels and ``tanh``. Every
convolution but the last is followed by instance normalisation (no affine parameters, no
running statistics, as in the reference code) and ReLU; padding is by reflection, which keeps
borders free of the zero-padding artefacts a translation would otherwise copy.

The image side must be divisible by ``2 ** n_down`` (28 and 32 px with two downsamplings: 7x7
and 8x8 inside; 64 px: 16x16).
"""

from __future__ import annotations

from torch import Tensor, nn

from ganlab.errors import GanlabError


def _norm(channels: int) -> nn.Module:
    return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)


class ResidualBlock(nn.Module):
    """``x + conv(relu(norm(conv(x))))`` with reflection padding and instance norm."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=True),
            _norm(channels), nn.ReLU(inplace=True),
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=True),
            _norm(channels),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class ResnetTranslator(nn.Module):
    """An image (N, ``in_channels``, H, W) in [-1, 1] -> an image (N, ``out_channels``, H, W)
    in [-1, 1]. ``width``: channels of the first layer (64 in the paper); ``n_blocks``: residual
    blocks at the bottleneck (6 at 128 px, 9 at 256 px in the paper); ``n_down``: stride-2
    downsamplings (and as many upsamplings)."""

    def __init__(self, in_channels: int, out_channels: int, width: int = 64, n_blocks: int = 6,
                 n_down: int = 2) -> None:
        super().__init__()
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels),
                            ("width", width), ("n_blocks", n_blocks)):
            if value < 1:
                raise GanlabError(f"ResnetTranslator: {name} must be >= 1, got {value}")
        if n_down < 0:
            raise GanlabError(f"ResnetTranslator: n_down must be >= 0, got {n_down}")
        self.in_channels, self.out_channels, self.n_down = in_channels, out_channels, n_down
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(in_channels, width, 7),
                                   _norm(width), nn.ReLU(inplace=True)]
        ch = width
        for _ in range(n_down):
            layers += [nn.Conv2d(ch, 2 * ch, 3, stride=2, padding=1), _norm(2 * ch),
                       nn.ReLU(inplace=True)]
            ch *= 2
        layers += [ResidualBlock(ch) for _ in range(n_blocks)]
        for _ in range(n_down):
            layers += [nn.ConvTranspose2d(ch, ch // 2, 3, stride=2, padding=1, output_padding=1),
                       _norm(ch // 2), nn.ReLU(inplace=True)]
            ch //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ch, out_channels, 7), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        for m in self.modules():   # N(0, 0.02) as in the reference code
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.normal_(m.weight, 0.0, 0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def check_input(self, shape: tuple[int, ...]) -> None:
        """A clear error unless one image of ``shape`` (C, H, W) fits this generator."""
        c, h, w = shape
        if c != self.in_channels:
            raise GanlabError(f"ResnetTranslator takes {self.in_channels}-channel images, got "
                              f"{c} channels")
        step = 2 ** self.n_down
        if h % step or w % step or min(h, w) // step < 2:
            raise GanlabError(f"ResnetTranslator with {self.n_down} downsamplings needs a "
                              f"height and width divisible by {step} (and at least "
                              f"{2 * step}), got {h}x{w}; resize the data (data.resolution) "
                              "or change n_down")

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)
