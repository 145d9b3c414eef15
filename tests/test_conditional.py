"""Class-conditional networks, the conditional GAN family, its sampler and ``sample --class``."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from ganlab import config
from ganlab.api import load_run
from ganlab.cli import main
from ganlab.engine import checkpoint as ckpt
from ganlab.errors import GanlabError
from ganlab.families import build_family
from ganlab.nn import build_models
from ganlab.sampling import LatentSampler

K = 4  # classes of the tiny data set

SHAPES = {"mlp": (5,), "dcgan": (1, 28, 28), "resnet": (3, 32, 32)}


def model_cfg(arch: str, **kw: object) -> SimpleNamespace:
    base = {"arch": arch, "z_dim": 6, "width": 8, "depth": 2, "g_width": None,
            "d_width": None, "spectral_norm": False, "batch_norm_g": True,
            "batch_norm_d": True}
    return SimpleNamespace(**{**base, **kw})


def labels(n: int) -> torch.Tensor:
    return torch.arange(n) % K


# -- networks ------------------------------------------------------------------------------------


@pytest.mark.parametrize("arch", sorted(SHAPES))
@pytest.mark.parametrize("sn", [False, True])
def test_conditional_shapes(arch: str, sn: bool) -> None:
    shape = SHAPES[arch]
    g, d = build_models(model_cfg(arch, spectral_norm=sn), shape, num_classes=K)
    assert g.num_classes == K and d.num_classes == K and g.z_dim == 6
    z = g.sample_latent(5, torch.Generator().manual_seed(0))
    assert z.shape == (5, 6)              # the latent is unchanged; the class is a second input
    x = g(z, labels(5))
    assert x.shape == (5, *shape)
    assert d(x, labels(5)).shape == (5,)
    assert d(x, labels(5).to(torch.int32)).shape == (5,)
    if sn:
        sn_embed = hasattr(d.embed, "parametrizations")
        assert sn_embed, "with spectral norm the discriminator's class embedding is normalised"


@pytest.mark.parametrize("arch", sorted(SHAPES))
def test_wrong_or_missing_labels_are_refused(arch: str) -> None:
    shape = SHAPES[arch]
    g, d = build_models(model_cfg(arch), shape)
    z, x = g.sample_latent(3), torch.randn(3, *shape)
    for net, inp in ((g, z), (d, x)):
        with pytest.raises(GanlabError, match="is unconditional: it takes no class labels"):
            net(inp, labels(3))
    g, d = build_models(model_cfg(arch), shape, num_classes=K)
    for net, inp in ((g, z), (d, x)):
        with pytest.raises(GanlabError, match=f"is conditional on {K} classes: pass class"):
            net(inp)
        with pytest.raises(GanlabError, match=r"integer tensor of shape \(3,\)"):
            net(inp, labels(3).float())
        with pytest.raises(GanlabError, match=r"integer tensor of shape \(3,\)"):
            net(inp, labels(4))


@pytest.mark.parametrize("arch", sorted(SHAPES))
def test_discriminator_output_depends_on_the_label(arch: str) -> None:
    torch.manual_seed(0)
    _, d = build_models(model_cfg(arch, batch_norm_d=False), SHAPES[arch], num_classes=K)
    d.eval()
    x = torch.randn(6, *SHAPES[arch])
    outs = [d(x, torch.full((6,), k)) for k in range(K)]
    for k in range(1, K):
        assert not torch.allclose(outs[0], outs[k]), f"class {k} scores like class 0"


@pytest.mark.parametrize("arch", ["dcgan", "resnet"])
def test_projection_is_the_only_class_term(arch: str) -> None:
    """D(x, y) = linear(h) + <embed(y), h>: with a zero embedding every class scores the
    same, and the difference between two classes is <embed(a) - embed(b), h>."""
    torch.manual_seed(0)
    _, d = build_models(model_cfg(arch, batch_norm_d=False, spectral_norm=False),
                        SHAPES[arch], num_classes=K)
    d.eval()
    x = torch.randn(5, *SHAPES[arch])
    a, b = torch.zeros(5, dtype=torch.long), torch.full((5,), 3)
    with torch.no_grad():
        diff = d(x, a) - d(x, b)
        if arch == "dcgan":
            h = x
            for layer in list(d.net)[:-1]:
                h = layer(h)
            h = h.sum(dim=(2, 3))
        else:
            h = torch.relu(d.blocks(x)).sum(dim=(2, 3))
        want = ((d.embed.weight[0] - d.embed.weight[3]) * h).sum(1)
        torch.testing.assert_close(diff, want, rtol=1e-4, atol=1e-4)
        d.embed.weight.zero_()
        assert torch.equal(d(x, a), d(x, b))


@pytest.mark.parametrize("arch", sorted(SHAPES))
def test_generator_output_depends_on_the_label(arch: str) -> None:
    torch.manual_seed(0)
    g, _ = build_models(model_cfg(arch), SHAPES[arch], num_classes=K)
    g.eval()
    z = g.sample_latent(4, torch.Generator().manual_seed(1))
    assert not torch.allclose(g(z, torch.zeros(4, dtype=torch.long)), g(z, torch.ones(4).long()))


# Pinned names: existing checkpoints load only if the unconditional networks keep them.
UNCONDITIONAL_KEYS = {
    ("mlp", False): ((6, 6), ["net.0.weight", "net.0.bias", "net.2.weight", "net.4.bias"],
                     ["net.0.weight", "net.2.bias", "net.4.weight", "net.4.bias"]),
    ("mlp", True): ((6, 12), ["net.0.weight", "net.4.bias"],
                    ["net.0.bias", "net.0.parametrizations.weight.original",
                     "net.0.parametrizations.weight.0._u", "net.4.parametrizations.weight.0._v"]),
    ("dcgan", False): (None, ["net.0.weight", "net.1.weight", "net.1.running_mean",
                              "net.1.num_batches_tracked", "net.6.weight", "net.6.bias"],
                       ["net.0.weight", "net.0.bias", "net.2.weight", "net.3.running_var",
                        "net.5.weight", "net.5.bias"]),
    ("resnet", True): (None, ["linear.weight", "linear.bias", "blocks.0.bn1.weight",
                              "blocks.0.conv1.weight", "blocks.1.shortcut.bias",
                              "out.0.running_mean", "out.2.weight"],
                       ["blocks.0.conv1.parametrizations.weight.original",
                        "blocks.0.shortcut.parametrizations.weight.0._u",
                        "blocks.2.conv2.bias", "linear.parametrizations.weight.original",
                        "linear.bias"]),
}


@pytest.mark.parametrize("arch,sn", sorted(UNCONDITIONAL_KEYS))
def test_unconditional_state_dict_keys_are_unchanged(arch: str, sn: bool) -> None:
    counts, g_keys, d_keys = UNCONDITIONAL_KEYS[arch, sn]
    g, d = build_models(model_cfg(arch, spectral_norm=sn), SHAPES[arch])
    gk, dk = list(g.state_dict()), list(d.state_dict())
    assert set(g_keys) <= set(gk) and set(d_keys) <= set(dk)
    assert not any("embed" in k for k in gk + dk)
    assert g.num_classes is None and d.num_classes is None
    if counts is not None:
        assert (len(gk), len(dk)) == counts
    gc, dc = build_models(model_cfg(arch, spectral_norm=sn), SHAPES[arch], num_classes=K)
    assert set(gc.state_dict()) - set(gk) == {"embed.weight"}
    extra = {k for k in dc.state_dict() if k not in dk}
    assert extra and all(k.startswith("embed.") for k in extra)


def test_build_models_checks_num_classes(monkeypatch: pytest.MonkeyPatch) -> None:
    import ganlab.nn as gnn

    with pytest.raises(GanlabError, match="positive number of classes"):
        build_models(model_cfg("dcgan"), (1, 28, 28), num_classes=0)
    gnn.arch_names()
    monkeypatch.setitem(gnn._ARCHS, "plain", lambda cfg, shape: build_models(
        model_cfg("mlp"), shape))
    assert build_models(model_cfg("plain"), (2,))[0].num_classes is None
    with pytest.raises(GanlabError, match="gan.model.arch=plain: this architecture has no "
                                          "class-conditional version"):
        build_models(model_cfg("plain"), (2,), num_classes=3)


# -- the sampler ---------------------------------------------------------------------------------


def test_latent_sampler_conditions() -> None:
    torch.manual_seed(0)
    g, _ = build_models(model_cfg("dcgan"), (1, 28, 28), num_classes=K)
    s = LatentSampler(g, "images")
    assert s.num_classes == K
    a = s.sample(5, seed=3, condition=2)
    assert a.shape == (5, 1, 28, 28) and torch.equal(a, s.sample(5, seed=3, condition=2))
    # the same latents whatever the class; per-sample labels pick rows of the per-class draws
    b = s.sample(5, seed=3, condition=1)
    mixed = s.sample(5, seed=3, condition=[2, 1, 2, 1, 2])
    assert not torch.equal(a, b)
    torch.testing.assert_close(mixed[0::2], a[0::2])
    torch.testing.assert_close(mixed[1::2], b[1::2])
    # no condition: the classes in turn
    torch.testing.assert_close(s.sample(6, seed=3), s.sample(6, seed=3, condition=labels(6)))
    assert torch.equal(s.labels(6), torch.tensor([0, 1, 2, 3, 0, 1]))
    with pytest.raises(GanlabError, match="class 4 is out of range; G has 4 classes, 0 to 3"):
        s.sample(2, condition=4)
    with pytest.raises(GanlabError, match="class -1 is out of range"):
        s.sample(2, condition=torch.tensor([0, -1]))
    with pytest.raises(GanlabError, match="3 samples need 3 labels"):
        s.sample(3, condition=[0, 1])
    with pytest.raises(GanlabError, match="must be integers"):
        s.sample(2, condition=[0.5, 1.0])
    plain = LatentSampler(build_models(model_cfg("dcgan"), (1, 28, 28))[0], "images")
    assert plain.num_classes is None
    with pytest.raises(GanlabError, match="G is unconditional: it takes no condition"):
        plain.sample(2, condition=1)


# -- the family and the CLI -----------------------------------------------------------------------


def _npz(path: Path, with_labels: bool = True) -> Path:
    rng = np.random.default_rng(0)
    arrays = {"images": rng.integers(0, 256, (40, 28, 28), np.uint8)}
    if with_labels:
        arrays["labels"] = np.arange(40) % K
    np.savez(path, **arrays)
    return path


def _overrides(data: Path, *extra: str) -> list[str]:
    return [f"data.name=npz:{data}", "data.labels=true", "gan.conditional=true",
            "gan.model.width=8", "gan.model.z_dim=8", "train.threads=1", "train.batch_size=8",
            "train.steps=8", "train.checkpoint_every=4", "train.log_every=2",
            "train.snapshot_every=8", "eval.every=0", *extra]


def _train(out: Path, overrides: list[str], *more: str) -> Path:
    args = ["train", "--preset", "fashion-dcgan-ns", "--out", str(out), "--no-progress", *more]
    for o in overrides:
        args += ["--set", o]
    assert main(args) == 0
    (run,) = out.iterdir()
    return run


def _losses(run: Path) -> list[tuple[int, float, float]]:
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    return [(r["step"], r["d_loss"], r["g_loss"]) for r in rows]


def _weights(run: Path) -> dict[str, torch.Tensor]:
    path = ckpt.latest(run / "checkpoints")
    assert path is not None
    return load_file(str(path / ckpt.WEIGHTS))


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """A conditional 8-step run with EMA, the same run stopped at 4 and resumed, and a short
    unconditional run on the same data."""
    n = torch.get_num_threads()
    root = tmp_path_factory.mktemp("cond")
    data = _npz(root / "d.npz")
    ov = _overrides(data, "gan.ema.enabled=true")
    full = _train(root / "full", ov)
    half = _train(root / "half", ov, "--until", "4")
    assert main(["resume", str(half), "--no-progress"]) == 0
    plain = _train(root / "plain", [*_overrides(data, "train.steps=2"),
                                    "gan.conditional=false"])
    torch.set_num_threads(n)
    return SimpleNamespace(full=full, half=half, plain=plain, data=data)


def test_conditional_run_trains_and_resumes_bit_exactly(runs: SimpleNamespace) -> None:
    wa, wb = _weights(runs.full), _weights(runs.half)
    assert wa.keys() == wb.keys()
    assert {"G.embed.weight", "D.embed.weight", "G_ema.embed.weight"} <= set(wa)
    for key in wa:
        assert torch.equal(wa[key], wb[key]), f"{key} differs after resume"
    assert _losses(runs.full) == _losses(runs.half) and len(_losses(runs.full)) == 4
    # the snapshot: one row of 8 per class (28 px + 2 px padding per cell, as save_grid lays out)
    from PIL import Image

    grid = Image.open(runs.full / "samples" / "step-0000008.png")
    assert grid.size == (8 * 30 + 2, K * 30 + 2)


def test_sample_by_class(runs: SimpleNamespace, tmp_path: Path,
                         capsys: pytest.CaptureFixture[str]) -> None:
    npz = tmp_path / "c2.npz"
    assert main(["sample", str(runs.full), "--class", "2", "-n", "4", "--npz", str(npz)]) == 0
    out = capsys.readouterr().out
    assert "sampled 4 images of class 2 from G_ema" in out
    images = np.load(npz)["images"]
    assert images.shape == (4, 1, 28, 28) and images.dtype == np.uint8
    sampler = load_run(runs.full).sampler()
    from ganlab.report.grid import to_uint8

    assert np.array_equal(images, to_uint8(sampler.sample(4, 0, condition=2)).numpy())
    assert main(["sample", str(runs.full), "--class", "1", "-n", "3", "--seed", "5"]) == 0
    assert (runs.full / "sample-class1-seed5.png").is_file()
    assert main(["sample", str(runs.full), "-n", "3", "--npz", str(tmp_path / "all.npz")]) == 0


def test_sample_class_errors(runs: SimpleNamespace, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sample", str(runs.full), "--class", "9", "-n", "2"]) == 2
    err = capsys.readouterr().err
    assert "--class 9: this run has 4 classes, 0 to 3" in err
    assert main(["sample", str(runs.full), "--class", "-1", "-n", "2"]) == 2
    assert main(["sample", str(runs.plain), "--class", "1", "-n", "2"]) == 2
    err = capsys.readouterr().err
    assert "is not class-conditional" in err and "gan.conditional=true" in err
    assert main(["sample", str(runs.plain), "-n", "2", "--npz",
                 str(runs.plain / "s.npz")]) == 0
    assert "G.embed.weight" not in _weights(runs.plain)


def test_conditional_needs_labels(tmp_path: Path) -> None:
    data = _npz(tmp_path / "nolabels.npz", with_labels=False)
    cfg = config.load(preset="fashion-dcgan-ns",
                      overrides=[o for o in _overrides(data) if o != "data.labels=true"])
    with pytest.raises(GanlabError, match=r"gan.conditional=true needs class labels.*"
                                          r"data.labels=true"):
        build_family(cfg)
    cfg = config.load(preset="ring-ns", overrides=["gan.conditional=true"])
    with pytest.raises(GanlabError, match="data.labels=true"):
        build_family(cfg)


@pytest.mark.parametrize("objective", [["gan.objective.name=wgan-gp", "gan.n_critic=2"],
                                       ["gan.objective.name=hinge",
                                        "gan.objective.r1_gamma=1.0"]])
def test_every_discriminator_call_gets_labels(tmp_path: Path, objective: list[str]) -> None:
    """Real images with their labels, fakes with the labels G made them for, and the
    gradient penalty / R1 through D(x, y)."""
    data = _npz(tmp_path / "d.npz")
    cfg = config.load(preset="fashion-dcgan-ns",
                      overrides=[*_overrides(data), "gan.model.batch_norm_d=false", *objective])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        family = build_family(cfg)
        calls: list[tuple[int, torch.Tensor | None]] = []
        g_calls: list[torch.Tensor | None] = []
        d_forward, g_forward = family.D.forward, family.G.forward

        def spy_d(x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
            calls.append((x.shape[0], y))
            return d_forward(x, y)

        def spy_g(z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
            g_calls.append(y)
            return g_forward(z, y)

        family.D.forward = spy_d  # type: ignore[method-assign]
        family.G.forward = spy_g  # type: ignore[method-assign]
        logs = family.train_step(0, log=True)
    assert ("gp" in logs) != ("r1" in logs) and np.isfinite(list(logs.values())).all()
    n_critic = 2 if "gan.n_critic=2" in objective else 1
    per_step = 3 if "gp" in logs else 2     # real, fake (and the interpolates)
    assert len(calls) == n_critic * per_step + 1 and len(g_calls) == n_critic
    for n, y in calls:
        assert y is not None and y.shape == (n,) and y.dtype == torch.int64
        assert int(y.min()) >= 0 and int(y.max()) < K
    real, fake, *penalty, g_step = calls[-per_step - 1:]
    assert g_step[1] is g_calls[-1] and fake[1] is g_calls[-1]   # fakes: the labels G used
    assert real[1] is not fake[1]
    if penalty:                                   # the interpolates: the real batch's labels
        assert penalty[0][1] is real[1]
