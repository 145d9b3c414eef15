"""Time one D+G iteration of the Fashion-MNIST DCGAN: ganlab against a textbook PyTorch loop.

Both sides use the same networks (ganlab's DCGAN builder, so the weights have the same shapes
and initialisation), batch 64, Adam(2e-4, betas 0.5/0.999) and the non-saturating loss on
logits. The textbook loop is the familiar one: ``netD.zero_grad()``, D on real, backward, D on
``fake.detach()``, backward, step, then ``netG.zero_grad()``, D on fake, backward, step, with
default Adam and NCHW tensors. ganlab runs its real ``GANFamily.train_step`` (data sampling and
EMA included) under several settings. Variants are interleaved round by round in one process
and per-iteration medians are reported, with a float32 matmul rate measured the same way.

FLOPs per iteration are counted with forward hooks (multiply-adds of every conv, transposed
conv and linear layer, times 2), assuming backward costs twice the forward: G runs forward
once and backward once, D runs forward three times (real, fake for D, fake for G) and backward
three times, so ``FLOPs = 2 * (3 * MACs_G + 9 * MACs_D) * batch``.

Run: ``.venv/bin/python benchmarks/train_speed.py [--rounds 7] [--iters 10] [--threads 2]``
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganlab import config
from ganlab.data.images import ImageSource, load_images
from ganlab.engine.runtime import Runtime, cpu_model
from ganlab.families import build_family
from ganlab.families.gan import GANFamily

BATCH = 64


def count_macs(module: nn.Module, x: Tensor) -> int:
    """Multiply-adds of one forward pass of ``module`` on ``x`` (conv, conv-T, linear)."""
    total = 0

    def hook(m: nn.Module, inp: tuple[Tensor, ...], out: Tensor) -> None:
        nonlocal total
        if isinstance(m, nn.ConvTranspose2d):
            kh, kw = m.kernel_size
            total += inp[0].numel() * m.out_channels * kh * kw // m.groups
        elif isinstance(m, nn.Conv2d):
            kh, kw = m.kernel_size
            total += out.numel() * (m.in_channels // m.groups) * kh * kw
        elif isinstance(m, nn.Linear):
            total += out.numel() * m.in_features

    handles = [m.register_forward_hook(hook) for m in module.modules()
               if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Linear)]
    with torch.no_grad():
        module(x)
    for h in handles:
        h.remove()
    return total


class Textbook:
    """The reference DCGAN training loop, written out as in the well-known tutorial."""

    def __init__(self, g: nn.Module, d: nn.Module, images: Tensor, seed: int = 0,
                 channels_last: bool = False, fused: bool = False,
                 no_d_grads_in_g_step: bool = False) -> None:
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        self.netG, self.netD = g.to(memory_format=fmt), d.to(memory_format=fmt)
        self.images, self.fmt, self.freeze_d = images, fmt, no_d_grads_in_g_step
        kw = {"fused": True} if fused else {}
        self.optD = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999), **kw)
        self.optG = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999), **kw)
        self.gen = torch.Generator().manual_seed(seed)
        self.ones = torch.ones(BATCH)
        self.zeros = torch.zeros(BATCH)

    def step(self) -> None:
        idx = torch.randint(0, len(self.images), (BATCH,), generator=self.gen)
        real = (self.images[idx].float() / 127.5 - 1).contiguous(memory_format=self.fmt)
        self.netD.zero_grad()
        err_real = F.binary_cross_entropy_with_logits(self.netD(real), self.ones)
        err_real.backward()
        noise = torch.randn(BATCH, self.netG.z_dim, generator=self.gen)
        fake = self.netG(noise)
        err_fake = F.binary_cross_entropy_with_logits(self.netD(fake.detach()), self.zeros)
        err_fake.backward()
        self.optD.step()
        self.netG.zero_grad()
        self.netD.requires_grad_(not self.freeze_d)
        err_g = F.binary_cross_entropy_with_logits(self.netD(fake), self.ones)
        err_g.backward()
        self.netD.requires_grad_(True)
        self.optG.step()


def ganlab_family(images: Tensor, overrides: list[str]) -> GANFamily:
    cfg = config.load(preset="fashion-dcgan-ns", overrides=[f"train.batch_size={BATCH}",
                                                            *overrides])
    torch.manual_seed(0)
    family = build_family(cfg, Runtime.from_config(cfg.train, device="cpu"),
                          data=ImageSource(images))
    assert isinstance(family, GANFamily)
    return family


def matmul_rate(n: int = 1024, reps: int = 10) -> float:
    """float32 GFLOP/s of an ``n x n`` matmul (median of ``reps``)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - t)
    return 2 * n ** 3 / statistics.median(times) / 1e9


def time_steps(fn: Callable[[], None], iters: int) -> list[float]:
    out = []
    for _ in range(iters):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


VARIANTS = {
    "ganlab (preset settings)": [],
    "ganlab, NCHW (channels_last off)": ["train.channels_last=false"],
    "ganlab, no EMA": ["gan.ema.enabled=false"],
    "ganlab, bf16 autocast": ["train.precision=bf16"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--iters", type=int, default=10, help="timed iterations per round")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    images, _ = load_images("fashion-mnist", "train", limit=10000)
    families = {name: ganlab_family(images, o) for name, o in VARIANTS.items()}
    ref = families["ganlab (preset settings)"]
    torch.manual_seed(0)
    cfg = ref.cfg
    from ganlab.nn import build_models

    tg, td = build_models(cfg.section.model, ref.sample_shape)
    textbook = Textbook(tg, td, images)
    runners: dict[str, Callable[[], None]] = {"textbook PyTorch": textbook.step}
    for name, kw in (("textbook + channels_last", {"channels_last": True}),
                     ("textbook + fused Adam", {"fused": True}),
                     ("textbook + no D grads in G step", {"no_d_grads_in_g_step": True})):
        torch.manual_seed(0)
        runners[name] = Textbook(*build_models(cfg.section.model, ref.sample_shape), images,
                                 **kw).step  # type: ignore[arg-type]
    for name, fam in families.items():
        runners[name] = (lambda f: lambda: f.train_step(0, False))(fam)
    for fn in runners.values():  # warm-up
        for _ in range(3):
            fn()
    times: dict[str, list[float]] = {k: [] for k in runners}
    rates = []
    for _ in range(args.rounds):
        rates.append(matmul_rate())
        for name, fn in runners.items():
            times[name] += time_steps(fn, args.iters)

    z = torch.randn(BATCH, cfg.section.model.z_dim)
    macs_g = count_macs(tg, z)
    macs_d = count_macs(td, tg(z).detach())
    flops = 2 * (3 * macs_g + 9 * macs_d)
    rate = statistics.median(rates)
    base = statistics.median(times["textbook PyTorch"])
    print(f"torch {torch.__version__}, {args.threads} threads, {cpu_model()}; "
          f"G {macs_g / BATCH / 1e6:.1f} MMAC/img, D {macs_d / BATCH / 1e6:.1f} MMAC/img; "
          f"{flops / 1e9:.2f} GFLOP per iteration; matmul {rate:.0f} GFLOP/s")
    print(f"{'variant':36s} {'ms/iter':>8s} {'vs textbook':>11s} {'img/s':>7s} "
          f"{'GFLOP/s':>8s} {'of matmul':>9s}")
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"{name:36s} {1000 * med:8.1f} {base / med:10.2f}x {BATCH / med:7.0f} "
              f"{flops / med / 1e9:8.1f} {flops / med / 1e9 / rate:9.1%}")


if __name__ == "__main__":
    main()
