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
                                                   "train.betas_g=[0.0, 0.9]",
                                                   "objective.name=wgan-gp"])
    assert cfg.train.steps == 5000 and cfg.seed == 3
    assert cfg.train.betas_g == [0.0, 0.9] and cfg.objective.name == "wgan-gp"


@pytest.mark.parametrize(("override", "message"), [
    ("train.stpes=10", "config key 'train.stpes' is unknown; allowed keys under train: steps"),
    ("optimizer.lr=1", "config key 'optimizer' is unknown; allowed keys: name, seed"),
    ("train.steps=many", "train.steps: expected an integer, got 'many'"),
    ("train.lr_d=-0.1", "train.lr_d: must be > 0, got -0.1"),
    ("train.n_critic=0", "train.n_critic: must be > 0, got 0"),
    ("train.lr_decay=step", "train.lr_decay: 'step' is not allowed; choose one of none, linear"),
    ("train.ema=yes please", "train.ema: expected true or false"),
    ("train.betas_d=[0.5]", "train.betas_d: expected two numbers in [0, 1)"),
    ("objective.name=wgangp", "objective.name: unknown objective 'wgangp'; allowed: minimax"),
    ("train.steps", "expected KEY=VALUE"),
    ("train.threads=-1", "train.threads: must be > 0 when set, got -1"),
    ("model.g_width=-3", "model.g_width: must be > 0 when set, got -3"),
    ("data.limit=-5", "data.limit: must be > 0 when set, got -5"),
    ("eval.n_samples=5", "eval.n_samples: must be >= 10"),
    ("train.lr_g=.nan", "train.lr_g: must be a finite number"),
    ("train.lr_g=1e-x", "train.lr_g: expected a number, got '1e-x'"),
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
    code = main(["train", "--preset", "ring-ns", "--set", "train.n_critic=0"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err == ["ganlab: error: train.n_critic: must be > 0, got 0"]


def test_round_trip_through_yaml() -> None:
    cfg = config.load(preset="ring-wgan-gp")
    again = config.from_dict(__import__("yaml").safe_load(config.dump(cfg)))
    assert again == cfg


def test_exponent_without_a_dot_is_a_number() -> None:
    # YAML 1.1 reads 1e-4 as a string; ganlab reads it as the number a user means
    cfg = config.load(preset="ring-ns", overrides=["train.lr_g=1e-4", "train.lr_d=2E-4"])
    assert cfg.train.lr_g == 1e-4 and cfg.train.lr_d == 2e-4


def test_gradient_penalty_with_batch_norm_in_d_is_refused() -> None:
    with pytest.raises(GanlabError) as info:
        config.load(preset="fashion-dcgan-ns", overrides=["objective.name=wgan-gp"])
    assert "model.batch_norm_d" in str(info.value) and "objective.gp_weight" in str(info.value)
    cfg = config.load(preset="fashion-dcgan-ns",
                      overrides=["objective.name=wgan-gp", "model.batch_norm_d=false"])
    assert cfg.objective.name == "wgan-gp"
    with pytest.raises(GanlabError, match="objective.r1_gamma"):
        config.load(preset="fashion-dcgan-ns", overrides=["objective.r1_gamma=1"])
