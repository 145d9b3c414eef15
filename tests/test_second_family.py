"""A second family, registered from this file, runs on the shared contract with no edit to
the loop, the config, the CLI or the report: its own config section, four networks, two
optimisers, a text artefact; it trains, checkpoints, resumes bit-exactly and samples through
the CLI."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file
from torch import Tensor, nn

from ganlab import config, families
from ganlab.cli import main
from ganlab.config import OptimizerConfig, setting
from ganlab.engine.family import Family, FamilyContext
from ganlab.engine.optim import build_optimizers
from ganlab.errors import GanlabError
from ganlab.report.artefacts import Text
from helpers import untimed_metrics


@dataclass
class TwinConfig:
    """The ``twin:`` section: two small GANs on the same points, trained side by side."""

    hidden: int = setting(16, check="positive")
    n_blocks: int = setting(1, check="positive")
    text_lines: int = setting(3, check="positive")
    optim: dict[str, OptimizerConfig] = field(default_factory=lambda: {
        "gen": OptimizerConfig(lr=1e-3), "disc": OptimizerConfig(lr=1e-3)})


def _mlp(n_in: int, hidden: int, n_out: int, blocks: int) -> nn.Module:
    layers: list[nn.Module] = [nn.Linear(n_in, hidden), nn.ReLU()]
    for _ in range(blocks - 1):
        layers += [nn.Linear(hidden, hidden), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(hidden, n_out))


class TwinSampler:
    kind = "text"
    source = "G_a+G_b"

    def __init__(self, family: TwinFamily) -> None:
        self.family = family

    @torch.no_grad()
    def sample(self, n: int, seed: int = 0, condition: Any = None) -> list[str]:
        z = torch.randn(n, 2, generator=torch.Generator().manual_seed(seed))
        a, b = self.family.G_a(z), self.family.G_b(z)
        return [f"a=({x[0]:+.3f},{x[1]:+.3f}) b=({y[0]:+.3f},{y[1]:+.3f})"
                for x, y in zip(a.tolist(), b.tolist(), strict=True)]


class TwinFamily(Family):
    name = "twin"
    config_class = TwinConfig

    def __init__(self, ctx: FamilyContext) -> None:
        super().__init__(ctx)
        hp: TwinConfig = self.section
        self.gen = self.streams.generator("train")   # the engine saves and restores it
        dim = self.spec.sample_shape[0]
        self.G_a = self.runtime.module(_mlp(2, hp.hidden, dim, hp.n_blocks))
        self.G_b = self.runtime.module(_mlp(2, hp.hidden, dim, hp.n_blocks))
        self.D_a = self.runtime.module(_mlp(dim, hp.hidden, 1, hp.n_blocks))
        self.D_b = self.runtime.module(_mlp(dim, hp.hidden, 1, hp.n_blocks))
        gens = nn.ModuleList([self.G_a, self.G_b])
        discs = nn.ModuleList([self.D_a, self.D_b])
        self.opts = build_optimizers({"gen": gens, "disc": discs}, hp.optim)
        self.d_steps = 0

    def modules(self) -> dict[str, nn.Module]:
        return {"G_a": self.G_a, "G_b": self.G_b, "D_a": self.D_a, "D_b": self.D_b}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return self.opts

    def train_step(self, step: int, log: bool) -> dict[str, float]:
        bs = self.cfg.train.batch_size
        real = self.data.batch(bs, self.gen).x
        z = torch.randn(bs, 2, generator=self.gen)
        bce = nn.functional.binary_cross_entropy_with_logits
        d_loss = torch.zeros(())
        fakes = []
        for G, D in ((self.G_a, self.D_a), (self.G_b, self.D_b)):
            fake = G(z)
            fakes.append(fake)
            d_real, d_fake = D(real), D(fake.detach())
            d_loss = d_loss + bce(d_real, torch.ones_like(d_real)) + \
                bce(d_fake, torch.zeros_like(d_fake))
        self.opts["disc"].zero_grad()
        d_loss.backward()
        self.opts["disc"].step()
        self.d_steps += 1
        g_loss = sum(bce(D(f), torch.ones(bs, 1)) for D, f in
                     ((self.D_a, fakes[0]), (self.D_b, fakes[1])))
        self.opts["gen"].zero_grad()
        g_loss.backward()
        self.opts["gen"].step()
        return {"d_loss": d_loss.item(), "g_loss": g_loss.item()} if log else {}

    def sampler(self) -> TwinSampler:
        return TwinSampler(self)

    def extra_state(self) -> dict[str, Any]:   # the engine saves streams and data position
        return {"d_steps": self.d_steps}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.d_steps = int(state["d_steps"])

    def snapshot(self, step: int) -> list[Text]:
        return [Text(self.sampler().sample(self.section.text_lines, seed=0), name="pairs")]

    def evaluate(self, final: bool) -> dict[str, Any]:
        with torch.no_grad():
            a = self.G_a(torch.randn(256, 2, generator=torch.Generator().manual_seed(9)))
        return {"radius_a": float(a.norm(dim=1).mean()), "d_steps": self.d_steps}

    def summary_lines(self, results: dict[str, Any]) -> list[str]:
        return [f"twin: mean radius of G_a's points {results['radius_a']:.3f}"]

    def run_info(self) -> dict[str, Any]:
        return {"objective": "ns (two pairs)"}


@pytest.fixture(autouse=True)
def _registered() -> None:
    families.register_family(TwinFamily)


BASE = ["family=twin", "data.name=ring", "train.steps=12", "train.batch_size=32",
        "train.log_every=2", "train.checkpoint_every=4", "train.snapshot_every=6",
        "train.progress=false", "twin.hidden=8", "twin.n_blocks=2", "train.lr_decay=linear"]


def _train(tmp_path: Path, extra: list[str], out: str) -> Path:
    argv = ["train", "--preset", "ring-ns", "--out", str(tmp_path / out)]
    for o in [*BASE, *extra]:
        argv += ["--set", o]
    assert main(argv) == 0
    (run,) = (tmp_path / out).iterdir()
    return run


def test_config_section_is_the_familys_own() -> None:
    cfg = config.load(preset="ring-ns", overrides=["family=twin", "twin.n_blocks=3"])
    assert cfg.family == "twin" and isinstance(cfg.section, TwinConfig)
    assert cfg.section.n_blocks == 3 and set(cfg.section.optim) == {"gen", "disc"}
    text = config.dump(cfg)
    assert "twin:" in text and "gan:" not in text   # the preset's gan section is dropped
    assert config.from_dict(__import__("yaml").safe_load(text)) == cfg
    with pytest.raises(GanlabError, match="twin.n_blocks: must be > 0, got 0"):
        config.load(preset="ring-ns", overrides=["family=twin", "twin.n_blocks=0"])
    with pytest.raises(GanlabError, match="config key 'twin.lambda_l1' is unknown"):
        config.load(preset="ring-ns", overrides=["family=twin", "twin.lambda_l1=1"])
    with pytest.raises(GanlabError, match=r"--set gan.model.width=8: this config trains "
                                          r"family 'twin', whose settings are under twin\."):
        config.load(preset="ring-ns", overrides=["family=twin", "gan.model.width=8"])
    with pytest.raises(GanlabError, match="twin.optim.disc.lr: must be > 0"):
        config.load(preset="ring-ns", overrides=["family=twin", "twin.optim.disc.lr=0"])


def test_trains_checkpoints_resumes_bit_exactly_and_samples(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    whole = _train(tmp_path, [], "whole")
    # the same run stopped after step 5 (a checkpoint), then resumed to the end
    run = tmp_path / "interrupted"
    argv = ["train", "--preset", "ring-ns", "--out", str(run), "--until", "5"]
    for o in BASE:
        argv += ["--set", o]
    assert main(argv) == 0
    (run,) = run.iterdir()
    assert main(["resume", str(run)]) == 0
    capsys.readouterr()

    def weights(r: Path) -> dict[str, Tensor]:
        latest = (r / "checkpoints" / "latest").read_text().strip()
        return load_file(str(r / "checkpoints" / latest / "weights.safetensors"))

    a, b = weights(whole), weights(run)
    assert sorted({k.split(".")[0] for k in a}) == ["D_a", "D_b", "G_a", "G_b"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)

    assert untimed_metrics(whole) == untimed_metrics(run)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["d_steps"] == 12
    # the text artefact, under its own name, and in the report
    texts = sorted((run / "samples").glob("pairs-step-*.txt"))
    assert [p.name for p in texts] == ["pairs-step-0000000.txt", "pairs-step-0000006.txt",
                                       "pairs-step-0000012.txt"]
    assert len(texts[-1].read_text().splitlines()) == 3
    report = (run / "report.html").read_text()
    assert texts[-1].read_text().splitlines()[0] in report
    assert "No snapshots" not in report   # the text series is the run's snapshot
    info = json.loads((run / "run_info.json").read_text())
    assert info["family"] == "twin" and info["data"]["kind"] == "points"
    # sampling through the CLI rebuilds the family from config.yaml + run_info.json
    out = tmp_path / "s.txt"
    assert main(["sample", str(run), "-n", "4", "--seed", "1", "--out", str(out)]) == 0
    lines = out.read_text().splitlines()
    assert len(lines) == 4 and all(line.startswith("a=(") for line in lines)
    assert "sampled 4 text from G_a+G_b" in capsys.readouterr().out


def test_the_python_api_trains_and_samples_a_family_from_outside(tmp_path: Path) -> None:
    import ganlab

    run = ganlab.train("ring-ns", BASE, out=tmp_path)
    assert run.config.family == "twin" and run.summary["d_steps"] == 12
    again = ganlab.load_run(run.path)
    lines = again.sample(3, seed=1)
    assert len(lines) == 3 and all(line.startswith("a=(") for line in lines)
    assert lines == again.sample(3, seed=1)
    assert [r["step"] for r in again.metrics if "d_loss" in r][-1] == 12
