"""The conditional GAN family (``family: cgan``): mismatched labels, the matching-aware
discriminator loss for every objective, the conditioning modes (concat / conditional BatchNorm
in G, concat / projection in D, AC-GAN's class head), the presets, exact resume and
``sample --class``."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import Tensor, nn

from ganlab import config
from ganlab.api import load_run
from ganlab.cli import main
from ganlab.engine import checkpoint as ckpt
from ganlab.errors import GanlabError
from ganlab.families import build_family
from ganlab.families.cgan import CGANFamily, mismatched_labels
from ganlab.losses import OBJECTIVES
from ganlab.nn import Conditioning, build_models
from ganlab.nn.layers import ConditionalBatchNorm2d, concat_channels

K = 4  # classes of the tiny data set


def _npz(path: Path, n: int = 40, with_labels: bool = True, k: int = K) -> Path:
    rng = np.random.default_rng(0)
    arrays = {"images": rng.integers(0, 256, (n, 28, 28), np.uint8)}
    if with_labels:
        arrays["labels"] = np.arange(n) % k
    np.savez(path, **arrays)
    return path


def _overrides(data: Path, *extra: str) -> list[str]:
    return [f"data.name=npz:{data}", "data.labels=true", "cgan.model.width=8",
            "cgan.model.z_dim=8", "train.threads=1", "train.batch_size=8", "train.steps=8",
            "train.checkpoint_every=4", "train.log_every=2", "train.snapshot_every=8",
            "eval.every=0", "cgan.aux_classifier_weight=0", "cgan.mode_seeking_weight=0",
            *extra]   # the preset's AC-GAN head and mode-seeking term off unless a test asks


def _family(data: Path, *extra: str, preset: str = "fashion-cgan") -> CGANFamily:
    cfg = config.load(preset=preset, overrides=_overrides(data, *extra))
    family = build_family(cfg, log=lambda _m: None)
    assert isinstance(family, CGANFamily)
    return family


# -- mismatched pairs ------------------------------------------------------------------------------


@pytest.mark.parametrize("k", [2, 3, 10])
def test_mismatched_labels_are_never_the_true_label(k: int) -> None:
    g = torch.Generator().manual_seed(0)
    y = torch.arange(6000) % k
    seen = torch.zeros(k, k, dtype=torch.long)
    for _ in range(5):
        wrong = mismatched_labels(y, k, g)
        assert wrong.shape == y.shape and wrong.dtype == torch.int64
        assert int(wrong.min()) >= 0 and int(wrong.max()) < k
        assert not bool((wrong == y).any()), "a pair kept its own label"
        seen.index_put_((y, wrong), torch.ones_like(y), accumulate=True)
    # every other class is drawn, about uniformly; the true one never
    assert int(seen.diagonal().sum()) == 0
    off = seen[~torch.eye(k, dtype=torch.bool)].float()
    expected = 5 * 6000 / (k * (k - 1))
    assert float(off.min()) > 0.8 * expected and float(off.max()) < 1.2 * expected
    if k == 2:   # only one other class: the mismatch is the flip
        assert torch.equal(mismatched_labels(y, 2, g), 1 - y)
    with pytest.raises(GanlabError, match="at least 2 classes"):
        mismatched_labels(torch.zeros(3, dtype=torch.long), 1, g)


def test_the_family_draws_mismatched_labels_from_its_stream(tmp_path: Path) -> None:
    family = _family(_npz(tmp_path / "d.npz"))
    y = torch.arange(400) % K
    state = family.gen.get_state()
    wrong = family._wrong_labels(y)
    assert not bool((wrong == y).any())
    family.gen.set_state(state)   # the same stream gives the same draw (resume stays exact)
    assert torch.equal(family._wrong_labels(y), wrong)


# -- the matching-aware loss -----------------------------------------------------------------------


class StubD(nn.Module):
    """A label-dependent score with one parameter: ``s(x, y) = mean(x) + scale * (y - 1.5)``."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(0.7))

    def forward(self, x: Tensor, y: Tensor, with_classes: bool = False) -> Tensor:
        return x.flatten(1).mean(1) + self.scale * (y.float() - 1.5)


def _hand_d_loss(name: str, r: Tensor, f: Tensor, m: Tensor | None, w: float) -> Tensor:
    """The documented L_D, written out per objective (not through the registry)."""
    if name in ("ns", "minimax"):
        t_real, t_fake = F.softplus(-r).mean(), (lambda s: F.softplus(s).mean())
    elif name == "lsgan":
        t_real, t_fake = 0.5 * ((r - 1) ** 2).mean(), (lambda s: 0.5 * (s ** 2).mean())
    elif name in ("wgan", "wgan-gp"):
        t_real, t_fake = -r.mean(), (lambda s: s.mean())
    else:
        assert name == "hinge"
        t_real, t_fake = F.relu(1 - r).mean(), (lambda s: F.relu(1 + s).mean())
    if m is None:
        return t_real + t_fake(f)
    return t_real + (t_fake(f) + w * t_fake(m)) / (1 + w)


@pytest.mark.parametrize("objective", sorted(OBJECTIVES))
def test_matching_aware_d_loss_is_the_documented_formula(objective: str,
                                                         tmp_path: Path) -> None:
    family = _family(_npz(tmp_path / "d.npz"), f"cgan.objective.name={objective}",
                     "cgan.model.batch_norm_d=false")
    family.D = StubD()
    g = torch.Generator().manual_seed(1)
    real, fake = torch.randn(12, 1, 28, 28, generator=g), torch.randn(12, 1, 28, 28, generator=g)
    y_real, y_fake = torch.arange(12) % K, (torch.arange(12) + 1) % K
    for w in (0.0, 0.5, 1.0, 3.0):
        family.section.mismatch_weight = w
        state = family.gen.get_state()
        loss, out = family._d_adversarial(real, real, fake, y_real, y_fake)
        drew = not torch.equal(family.gen.get_state(), state)
        family.gen.set_state(state)
        wrong = (y_real + torch.randint(1, K, (12,), generator=family.gen)) % K
        family.gen.set_state(state)
        r, f, m = (family.D(x, y) for x, y in ((real, y_real), (fake, y_fake), (real, wrong)))
        want = _hand_d_loss(objective, r, f, m if w > 0 else None, w)
        torch.testing.assert_close(loss, want, rtol=1e-6, atol=1e-6)
        assert torch.equal(out["d_adv"], loss)       # no aux head: the loss is the adversarial one
        assert torch.equal(out["d_match"], family.objective.d_loss(r, f))
        # the gradient through the weighted mismatch term is the hand-built one
        got = torch.autograd.grad(loss, family.D.scale)[0]
        torch.testing.assert_close(got, torch.autograd.grad(want, family.D.scale)[0])
        if w == 0:   # a plain cGAN: exactly the objective's loss, nothing drawn or scored
            assert torch.equal(loss, family.objective.d_loss(r, f))
            assert not drew and "d_mis" not in out
        else:
            assert drew
            torch.testing.assert_close(out["d_mis"], m)
        if objective == "ns" and w == 1.0:   # GAN-CLS (Reed et al., 2016)
            s = torch.sigmoid
            reed = -(s(r).log().mean() + ((1 - s(f)).log().mean()
                                          + (1 - s(m)).log().mean()) / 2)
            torch.testing.assert_close(loss, reed, rtol=1e-5, atol=1e-6)


def test_mismatch_weight_0_trains_exactly_like_gan_conditional(tmp_path: Path) -> None:
    """cgan with no mismatch term, concat G, projection D and no class head is the GAN
    family's ``gan.conditional=true``, step for step (the same hooks, the same streams)."""
    data = _npz(tmp_path / "d.npz")
    common = ["model.width=8", "model.z_dim=8"]
    runs = []
    for preset, family_extra in (("fashion-cgan", ["cgan.mismatch_weight=0",
                                                   "cgan.aux_classifier_weight=0",
                                                   "cgan.mode_seeking_weight=0"]),
                                 ("fashion-dcgan-ns", ["gan.conditional=true"])):
        name = "cgan" if preset == "fashion-cgan" else "gan"
        ov = [f"data.name=npz:{data}", "data.labels=true", "train.batch_size=8",
              *[f"{name}.{c}" for c in common], *family_extra]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            family = build_family(config.load(preset=preset, overrides=ov), log=lambda _m: None)
            logs = [family.train_step(i, log=True) for i in range(3)]
        runs.append((logs, {k: v.detach().clone() for k, v in family.G.state_dict().items()}))
    (logs_c, g_c), (logs_g, g_g) = runs
    assert [(x["d_loss"], x["g_loss"]) for x in logs_c] == \
        [(x["d_loss"], x["g_loss"]) for x in logs_g]
    assert g_c.keys() == g_g.keys() and all(torch.equal(g_c[k], g_g[k]) for k in g_c)
    assert all(x["d_match"] == x["d_adv"] and "d_mismatch" not in x for x in logs_c)


# -- conditioning modes ----------------------------------------------------------------------------


def test_default_conditioning_is_the_original_conditional_layout() -> None:
    cfg = SimpleNamespace(arch="dcgan", z_dim=6, width=8, depth=2, g_width=None, d_width=None,
                          spectral_norm=False, batch_norm_g=True, batch_norm_d=True)
    nets = []
    for cond in (None, Conditioning()):
        torch.manual_seed(0)
        nets.append(build_models(cfg, (1, 28, 28), K, cond))
    for a, b in zip(nets[0], nets[1], strict=True):
        sa, sb = a.state_dict(), b.state_dict()
        assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    with pytest.raises(GanlabError, match="needs a conditional model"):
        build_models(cfg, (1, 28, 28), None, Conditioning())
    with pytest.raises(GanlabError, match="unknown mode 'film'"):
        Conditioning(g="film")


MODES = [(g, d, aux) for g in ("concat", "cbn") for d in ("concat", "projection")
         for aux in (False,)] + [("cbn", "projection", True), ("concat", "projection", True)]


@pytest.mark.parametrize("arch", ["dcgan", "resnet"])
@pytest.mark.parametrize("g_mode,d_mode,aux", MODES)
def test_every_conditioning_mode_builds_and_trains(arch: str, g_mode: str, d_mode: str,
                                                   aux: bool, tmp_path: Path) -> None:
    family = _family(_npz(tmp_path / "d.npz"), f"cgan.model.arch={arch}",
                     f"cgan.g_conditioning={g_mode}", f"cgan.d_conditioning={d_mode}",
                     f"cgan.aux_classifier_weight={0.5 if aux else 0}",
                     "cgan.objective.name=hinge", "cgan.model.spectral_norm=true")
    G, D = family.G, family.D
    cbns = [m for m in G.modules() if isinstance(m, ConditionalBatchNorm2d)]
    plain_bns = [m for m in G.modules() if isinstance(m, nn.BatchNorm2d) and m.affine]
    if g_mode == "cbn":   # every BatchNorm of G is conditional, and z is left alone
        assert cbns and not plain_bns and G.embed is None
    else:
        assert not cbns and plain_bns and G.embed.weight.shape == (K, 8)
    first = next(m for m in D.modules() if isinstance(m, nn.Conv2d))
    assert first.in_channels == 1 + (concat_channels(K) if d_mode == "concat" else 0)
    z, y = G.sample_latent(5), torch.tensor([0, 1, 2, 3, 1])
    x = G(z, y)
    assert x.shape == (5, 1, 28, 28)
    assert D(x, y).shape == (5,)
    if aux:
        score, logits = D(x, y, with_classes=True)
        assert score.shape == (5,) and logits.shape == (5, K)
    else:
        with pytest.raises(GanlabError, match="no auxiliary classifier"):
            D(x, y, with_classes=True)
    logs = [family.train_step(i, log=True) for i in range(2)]
    assert all(np.isfinite(v) for row in logs for v in row.values())
    assert {"d_mismatch", "d_match"} <= set(logs[-1])
    assert ({"d_aux", "d_aux_acc", "g_aux", "g_adv"} <= set(logs[-1])) == aux
    if aux:   # D's loss adds the weighted class cross-entropy to the adversarial loss
        row = logs[-1]
        assert row["d_loss"] == pytest.approx(row["d_adv"] + 0.5 * row["d_aux"], rel=1e-5)
        assert row["g_loss"] == pytest.approx(row["g_adv"] + 0.5 * row["g_aux"], rel=1e-5)


def test_cbn_starts_as_batchnorm_and_learns_per_class() -> None:
    torch.manual_seed(0)
    cbn, bn = ConditionalBatchNorm2d(3, K), nn.BatchNorm2d(3)
    x = torch.randn(6, 3, 4, 4)
    y = torch.tensor([0, 1, 2, 3, 0, 1])
    torch.testing.assert_close(cbn(x, y), bn(x))
    with torch.no_grad():
        cbn.gain.weight[2] = 2.0
        cbn.bias.weight[2] = -1.0
    out, ref = cbn(x, y), bn(x)
    torch.testing.assert_close(out[2], 2 * ref[2] - 1)
    torch.testing.assert_close(out[[0, 1, 3, 4, 5]], ref[[0, 1, 3, 4, 5]])


@pytest.mark.parametrize("d_mode", ["concat", "projection"])
def test_mlp_conditioning(d_mode: str) -> None:
    cfg = SimpleNamespace(arch="mlp", z_dim=3, width=8, depth=2, g_width=None, d_width=None,
                          spectral_norm=True, batch_norm_g=True, batch_norm_d=True)
    G, D = build_models(cfg, (2,), K, Conditioning(d=d_mode, aux_classifier=True))
    D.eval()   # (spectral norm's power iteration would move between the two calls)
    y = torch.tensor([0, 3, 1])
    x = G(G.sample_latent(3), y)
    score, logits = D(x, y, with_classes=True)
    assert x.shape == (3, 2) and score.shape == (3,) and logits.shape == (3, K)
    assert torch.allclose(score, D(x, y))
    with pytest.raises(GanlabError, match="mlp generator has no BatchNorm"):
        build_models(cfg, (2,), K, Conditioning(g="cbn"))


@pytest.mark.parametrize("objective", sorted(OBJECTIVES))
def test_every_objective_trains(objective: str, tmp_path: Path) -> None:
    family = _family(_npz(tmp_path / "d.npz"), f"cgan.objective.name={objective}",
                     "cgan.model.batch_norm_d=false", "cgan.n_critic=2",
                     "cgan.aux_classifier_weight=0.1")
    logs = family.train_step(0, log=True)
    assert np.isfinite(list(logs.values())).all()
    assert ("gp" in logs) == (objective == "wgan-gp")


def test_config_errors(tmp_path: Path) -> None:
    data = _npz(tmp_path / "d.npz")
    nolabels = _npz(tmp_path / "n.npz", with_labels=False)
    cfg = config.load(preset="fashion-cgan", overrides=_overrides(nolabels, "data.labels=false"))
    with pytest.raises(GanlabError, match=r"family cgan needs class labels.*data.labels=true"):
        build_family(cfg)
    with pytest.raises(GanlabError, match="data.labels"):   # refused by the data itself
        build_family(config.load(preset="fashion-cgan", overrides=_overrides(nolabels)))
    for bad, msg in (("cgan.g_conditioning=film", "cgan.g_conditioning: 'film' is not allowed"),
                     ("cgan.d_conditioning=none", "cgan.d_conditioning: 'none' is not allowed"),
                     ("cgan.mismatch_weight=-1", "cgan.mismatch_weight: must be >= 0"),
                     ("cgan.aux_classifier_weight=-0.5", "cgan.aux_classifier_weight"),
                     ("cgan.conditional=true", "config key 'cgan.conditional' is unknown")):
        with pytest.raises(GanlabError, match=msg):
            config.load(preset="fashion-cgan", overrides=_overrides(data, bad))
    with pytest.raises(GanlabError, match="D's input carries the class"):   # a cheating head
        config.load(preset="fashion-cgan", overrides=_overrides(
            data, "cgan.aux_classifier_weight=1", "cgan.d_conditioning=concat"))
    with pytest.raises(GanlabError, match="cgan.g_conditioning=cbn needs BatchNorm in G"):
        config.load(preset="fashion-cgan", overrides=_overrides(
            data, "cgan.g_conditioning=cbn", "cgan.model.batch_norm_g=false"))
    one = _npz(tmp_path / "one.npz", k=1)
    with pytest.raises(GanlabError, match="mismatched pairs need at least 2 classes"):
        build_family(config.load(preset="fashion-cgan", overrides=_overrides(one)))


# -- presets, resume, sampling ---------------------------------------------------------------------


def _dataset_installed(preset: str) -> bool:
    from ganlab.data import images as im

    if preset.startswith("fashion"):
        return im.FASHION_SYSTEM_DIR.is_dir()
    try:
        im.mnist5k_path()
    except GanlabError:
        return False
    return True


def _train(out: Path, preset: str, overrides: list[str], *more: str) -> Path:
    args = ["train", "--preset", preset, "--out", str(out), "--no-progress", *more]
    for o in overrides:
        args += ["--set", o]
    assert main(args) == 0
    (run,) = out.iterdir()
    return run


def _rows(run: Path) -> list[dict]:
    return [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("preset", ["fashion-cgan", "mnist5k-cgan"])
def test_preset_smoke_run(preset: str, tmp_path: Path) -> None:
    if not _dataset_installed(preset):
        pytest.skip(f"the data set of {preset} is not installed")
    cfg = config.load(preset=preset)
    assert cfg.family == "cgan" and cfg.data.labels and cfg.section.mismatch_weight == 1.0
    assert cfg.section.d_conditioning == "projection" and cfg.section.model.arch == "dcgan"
    run = _train(tmp_path, preset, ["data.limit=200", "cgan.model.width=8", "cgan.model.z_dim=8",
                                    "train.threads=1", "train.steps=4", "train.batch_size=16",
                                    "train.log_every=2", "train.snapshot_every=4",
                                    "train.checkpoint_every=4", "eval.every=0",
                                    "eval.n_samples=100"])
    rows = _rows(run)
    assert [r["step"] for r in rows] == [2, 4]
    assert all(np.isfinite(r["d_loss"]) and 0 <= r["d_mismatch"] <= 1 for r in rows)
    info = json.loads((run / "run_info.json").read_text())
    assert info["family"] == "cgan" and info["num_classes"] == 10
    assert info["mismatch_weight"] == 1.0 and info["d_conditioning"] == "projection"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """An 8-step cgan run (cbn G, projection D, AC-GAN head, EMA) and the same run stopped at
    4 and resumed."""
    n = torch.get_num_threads()
    root = tmp_path_factory.mktemp("cgan")
    data = _npz(root / "d.npz")
    ov = _overrides(data, "cgan.g_conditioning=cbn", "cgan.d_conditioning=projection",
                    "cgan.aux_classifier_weight=0.5", "cgan.mismatch_weight=0.5")
    full = _train(root / "full", "fashion-cgan", ov)
    half = _train(root / "half", "fashion-cgan", ov, "--until", "4")
    assert main(["resume", str(half), "--no-progress"]) == 0
    torch.set_num_threads(n)
    return SimpleNamespace(full=full, half=half)


def _weights(run: Path) -> dict[str, Tensor]:
    path = ckpt.latest(run / "checkpoints")
    assert path is not None
    return load_file(str(path / ckpt.WEIGHTS))


def test_cgan_resumes_bit_exactly(runs: SimpleNamespace) -> None:
    wa, wb = _weights(runs.full), _weights(runs.half)
    assert wa.keys() == wb.keys()
    assert {"G.net.1.gain.weight", "D.embed.weight", "D.classifier.weight"} <= set(wa)
    for key in wa:
        assert torch.equal(wa[key], wb[key]), f"{key} differs after resume"
    ra, rb = _rows(runs.full), _rows(runs.half)
    keys = ("step", "d_loss", "g_loss", "d_mismatch", "d_aux", "g_aux")
    assert [[r[k] for k in keys] for r in ra] == [[r[k] for k in keys] for r in rb]
    assert len(ra) == 4


def test_sample_a_class(runs: SimpleNamespace, tmp_path: Path,
                        capsys: pytest.CaptureFixture[str]) -> None:
    npz = tmp_path / "c3.npz"
    assert main(["sample", str(runs.full), "--class", "3", "-n", "8", "--npz", str(npz)]) == 0
    assert "sampled 8 images of class 3 from G_ema" in capsys.readouterr().out
    images = np.load(npz)["images"]
    assert images.shape == (8, 1, 28, 28) and images.dtype == np.uint8
    from ganlab.report.grid import to_uint8

    sampler = load_run(runs.full).sampler()
    assert np.array_equal(images, to_uint8(sampler.sample(8, 0, condition=3)).numpy())
    assert main(["sample", str(runs.full), "--class", str(K), "-n", "2"]) == 2
    assert f"this run has {K} classes" in capsys.readouterr().err


def test_cgan_runs_log_conditional_accuracy(tmp_path: Path) -> None:
    """A cgan run evaluated with a classifier also reports how often it reads back the asked
    class, overall and per class (in metrics.jsonl, summary.json and the end-of-run line)."""
    import json

    import numpy as np

    from ganlab.cli import main as cli_main

    rng = np.random.default_rng(0)
    data = tmp_path / "d.npz"
    np.savez(data, images=rng.integers(0, 256, (60, 28, 28), dtype=np.uint8),
             labels=np.arange(60) % 10)
    argv = ["train", "--preset", "fashion-cgan", "--out", str(tmp_path / "runs"),
            "--no-progress"]
    for o in (f"data.name=npz:{data}", "train.steps=2", "train.batch_size=10",
              "cgan.model.width=8", "train.snapshot_every=0", "eval.every=2",
              "eval.n_samples=40", "eval.extractor=digits-classifier",
              f"eval.reference=npz:{data}", "train.log_every=1"):
        argv += ["--set", o]
    assert cli_main(argv) == 0
    (run,) = (tmp_path / "runs").iterdir()
    summary = json.loads((run / "summary.json").read_text())
    assert 0.0 <= summary["cond_accuracy"] <= 1.0
    per_class = [summary[f"cond_accuracy_{i}"] for i in range(10)]
    assert summary["cond_accuracy"] == pytest.approx(sum(per_class) / 10)


# -- mode seeking (MSGAN) --------------------------------------------------------------------------


def test_mode_seeking_ratio() -> None:
    from ganlab.families.cgan import mode_seeking_ratio

    z = torch.zeros(4, 3)
    z[2:] = 2.0                                  # mean |z1 - z2| = 2
    same = torch.ones(4, 1, 2, 2)
    assert float(mode_seeking_ratio(same, z)) == 0.0   # one image per condition: ratio 0
    apart = same.clone()
    apart[2:] = -1.0                             # mean |x1 - x2| = 2
    assert float(mode_seeking_ratio(apart, z)) == pytest.approx(1.0)
    odd = torch.cat([apart, torch.full((1, 1, 2, 2), 9.0)])   # the odd last one is left out
    assert float(mode_seeking_ratio(odd, torch.cat([z, z[:1]]))) == pytest.approx(1.0)
    with pytest.raises(GanlabError, match="at least 2 fakes"):
        mode_seeking_ratio(same[:1], z[:1])


def test_mode_seeking_pairs_conditions_and_pushes_latents_apart(tmp_path: Path) -> None:
    data = _npz(tmp_path / "d.npz")
    family = _family(data, "cgan.mode_seeking_weight=1")
    y = family._fake_labels(8)
    assert y is not None and torch.equal(y[:4], y[4:])       # pairs share their condition
    logs = family.train_step(0, log=True)
    assert "g_ms" in logs and np.isfinite(logs["g_ms"]) and logs["g_ms"] > 0
    # the term's gradient moves G towards different images for two latents of one class
    G = family.G
    z = torch.randn(8, G.z_dim, generator=torch.Generator().manual_seed(1))
    cls = torch.tensor([0, 1, 2, 3, 0, 1, 2, 3])
    from ganlab.families.cgan import mode_seeking_ratio

    G.train()
    before = float(mode_seeking_ratio(G(z, cls), z))
    opt = torch.optim.SGD(G.parameters(), lr=0.05)
    for _ in range(5):
        opt.zero_grad()
        (1.0 / (mode_seeking_ratio(G(z, cls), z) + 1e-5)).backward()
        opt.step()
    assert float(mode_seeking_ratio(G(z, cls), z)) > before


def test_fewer_classes_than_the_classifier_reads_finish_with_per_class_accuracy(
        tmp_path: Path) -> None:
    """4 classes read by the 10-class digit classifier: the classes never asked for have no
    accuracy, and the run's final evaluation does not fail on them."""
    data = _npz(tmp_path / "four.npz", n=40, k=4)
    argv = ["train", "--preset", "fashion-cgan", "--out", str(tmp_path / "runs"),
            "--no-progress"]
    for o in _overrides(data, "eval.n_samples=40", "eval.extractor=digits-classifier",
                        "train.steps=2", "train.checkpoint_every=2"):
        argv += ["--set", o]
    assert main(argv) == 0
    (run,) = (tmp_path / "runs").iterdir()
    summary = json.loads((run / "summary.json").read_text())
    assert {f"cond_accuracy_{i}" for i in range(4)} <= set(summary)
    assert not any(f"cond_accuracy_{i}" in summary for i in range(4, 10))
