"""Config validation: one clear line naming the key and what is allowed."""

from __future__ import annotations

from pathlib import Path

import pytest

from ganlab import config
from ganlab.cli import main
from ganlab.errors import GanlabError


def test_every_preset_loads_and_validates() -> None:
    names = config.preset_names()
    assert "ring-ns" in names and config.DEFAULT_PRESET in names
    for name in names:
        cfg = config.load(preset=name)
        assert cfg.name == name
        assert cfg.description, f"preset {name} has no description"


def test_overrides_are_typed() -> None:
    cfg = config.load(preset="ring-ns", overrides=["train.steps=5000", "seed=3",
                                                   "gan.optim.G.betas=[0.0, 0.9]",
                                                   "gan.objective.name=wgan-gp"])
    assert cfg.train.steps == 5000 and cfg.seed == 3
    assert cfg.section.optim["G"].betas == [0.0, 0.9]
    assert cfg.section.optim["D"].betas == [0.5, 0.999]
    assert cfg.section.objective.name == "wgan-gp"


@pytest.mark.parametrize(("override", "message"), [
    ("train.stpes=10", "config key 'train.stpes' is unknown; allowed keys under train: steps"),
    ("optimizer.lr=1", "config key 'optimizer' is unknown; allowed keys: name, seed"),
    ("train.steps=many", "train.steps: expected an integer, got 'many'"),
    ("gan.optim.D.lr=-0.1", "gan.optim.D.lr: must be > 0, got -0.1"),
    ("gan.n_critic=0", "gan.n_critic: must be > 0, got 0"),
    ("train.lr_decay=step", "train.lr_decay: 'step' is not allowed; choose one of none, linear"),
    ("gan.ema.enabled=yes please", "gan.ema.enabled: expected true or false"),
    ("gan.optim.D.betas=[0.5]", "gan.optim.D.betas: expected two numbers in [0, 1)"),
    ("gan.ema.decay=1.0", "gan.ema.decay: must be in [0, 1), got 1.0"),
    ("gan.objective.name=wgangp", "objective.name: unknown objective 'wgangp'; allowed: minimax"),
    ("gan.optim.E.lr=1", "gan.optim: needs exactly G and D, got D, E, G"),
    ("gan.lambda_l1=100", "config key 'gan.lambda_l1' is unknown; allowed keys under gan:"),
    ("family=pix3pix", "family: unknown family 'pix3pix'; allowed: cgan, cyclegan, gan, "
                       "gumbelgan, pix2pix, seqgan"),
    ("train.device=tpu", "train.device: 'tpu' is not a device"),
    ("data.stream=true", "data.stream: streaming reads a folder of image files"),
    ("train.precision=fp8", "train.precision: 'fp8' is not allowed; choose one of fp32, bf16"),
    ("train.steps", "expected KEY=VALUE"),
    ("train.threads=-1", "train.threads: must be > 0 when set, got -1"),
    ("gan.model.g_width=-3", "gan.model.g_width: must be > 0 when set, got -3"),
    ("data.limit=-5", "data.limit: must be > 0 when set, got -5"),
    ("eval.n_samples=5", "eval.n_samples: must be >= 10"),
    ("gan.optim.G.lr=.nan", "gan.optim.G.lr: must be a finite number"),
    ("gan.optim.G.lr=1e-x", "gan.optim.G.lr: expected a number, got '1e-x'"),
    # keys that moved into the family's section name their new home
    ("train.lr_g=1e-4", "config key 'train.lr_g' has moved: use gan.optim.G.lr"),
    ("train.n_critic=5", "config key 'train.n_critic' has moved: use gan.n_critic"),
    ("train.ema=true", "config key 'train.ema' has moved: use gan.ema.enabled"),
    ("train.bf16=true", "config key 'train.bf16' has moved: use train.precision"),
    ("objective.name=hinge", "config key 'objective' has moved: use gan.objective"),
    ("model.width=3", "config key 'model' has moved: use gan.model"),
])
def test_bad_values_name_the_key(override: str, message: str) -> None:
    with pytest.raises(GanlabError) as info:
        config.load(preset="ring-ns", overrides=[override])
    assert message in str(info.value)


def test_config_file_with_base_and_errors(tmp_path: Path) -> None:
    good = tmp_path / "run.yaml"
    good.write_text("base: ring-ns\ntrain:\n  steps: 7\n")
    assert config.load(path=good).train.steps == 7
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [1, 2\n")
    with pytest.raises(GanlabError, match="bad.yaml: not valid YAML"):
        config.load(path=bad)
    with pytest.raises(GanlabError, match="does not exist"):
        config.load(path=tmp_path / "missing.yaml")
    with pytest.raises(GanlabError, match="unknown preset 'nope'"):
        config.load(preset="nope")


def test_cli_reports_config_errors_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["train", "--preset", "ring-ns", "--set", "gan.n_critic=0"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err == ["ganlab: error: gan.n_critic: must be > 0, got 0"]


def test_round_trip_through_yaml() -> None:
    cfg = config.load(preset="ring-wgan-gp")
    again = config.from_dict(__import__("yaml").safe_load(config.dump(cfg)))
    assert again == cfg


def test_exponent_without_a_dot_is_a_number() -> None:
    # YAML 1.1 reads 1e-4 as a string; ganlab reads it as the number a user means
    cfg = config.load(preset="ring-ns", overrides=["gan.optim.G.lr=1e-4",
                                                   "gan.optim.D.lr=2E-4"])
    assert cfg.section.optim["G"].lr == 1e-4 and cfg.section.optim["D"].lr == 2e-4


def test_gradient_penalty_with_batch_norm_in_d_is_refused() -> None:
    with pytest.raises(GanlabError) as info:
        config.load(preset="fashion-dcgan-ns", overrides=["gan.objective.name=wgan-gp"])
    assert "gan.model.batch_norm_d" in str(info.value)
    assert "gan.objective.gp_weight" in str(info.value)
    cfg = config.load(preset="fashion-dcgan-ns",
                      overrides=["gan.objective.name=wgan-gp", "gan.model.batch_norm_d=false"])
    assert cfg.section.objective.name == "wgan-gp"
    with pytest.raises(GanlabError, match="gan.objective.r1_gamma"):
        config.load(preset="fashion-dcgan-ns", overrides=["gan.objective.r1_gamma=1"])


def test_a_partial_optimiser_mapping_keeps_the_other_optimisers(tmp_path: Path) -> None:
    f = tmp_path / "run.yaml"
    f.write_text("family: gan\ngan:\n  optim:\n    G: {lr: 0.0003}\n")
    cfg = config.load(path=f)
    assert cfg.section.optim["G"].lr == 3e-4 and cfg.section.optim["D"].lr == 1e-3
    text = config.dump(cfg)
    assert "gan:" in text and "objective:" in text and "\nobjective" not in text



def test_a_file_without_a_name_names_the_run_after_itself(tmp_path: Path) -> None:
    plain = tmp_path / "my-ring.yaml"
    plain.write_text("family: gan\ngan: {objective: {name: hinge}}\n")
    assert config.load(plain).name == "my-ring"
    based = tmp_path / "longer.yaml"
    based.write_text("base: fashion-dcgan-ns\ntrain: {steps: 5000}\n")
    assert config.load(based).name == "longer"            # not the base preset's name
    named = tmp_path / "x.yaml"
    named.write_text("name: chosen\nbase: fashion-dcgan-ns\n")
    assert config.load(named).name == "chosen"
