"""Evaluation that other tools' files drop into: their statistics, their image arrays, strict JSON,
and fingerprints of the real set on every card."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from ganlab.cli import main as cli_main
from ganlab.errors import GanlabError
from ganlab.metrics import api, cache
from ganlab.metrics.card import MetricCard, MetricResult, dumps_strict, joint_card, json_safe
from ganlab.metrics.sources import load_images
from ganlab.metrics.stats import UNVERIFIED, FeatureMoments, FeatureStats
from helpers import TinyExtractor


@pytest.fixture
def files(tmp_path, monkeypatch):
    monkeypatch.setenv("GANLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    torch.manual_seed(0)
    ts = tmp_path / "tiny.pt"
    torch.jit.script(TinyExtractor(4)).save(str(ts))
    rng = np.random.default_rng(0)
    a = tmp_path / "a.npz"
    np.savez(a, images=rng.integers(0, 256, size=(40, 8, 8, 3), dtype=np.uint8))
    b = tmp_path / "b.npz"
    np.savez(b, images=rng.integers(0, 200, size=(40, 3, 8, 8), dtype=np.uint8))
    return {"ts": str(ts), "a": str(a), "b": str(b), "tmp": tmp_path}


def _strict(text: str):
    def refuse(name: str):
        raise AssertionError(f"non-strict JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    rc = cli_main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


def _fid_json(argv: list[str], files, capsys) -> tuple[dict, str]:
    rc, out, err = _run(["eval", "fid", *argv, "--extractor", files["ts"], "--json"], capsys)
    assert rc == 0, err
    return _strict(out)["fid"], err


def _stats(files, capsys, spec: str | None = None, name: str = "s.npz") -> str:
    out = str(files["tmp"] / name)
    rc, _, err = _run(["stats", spec or files["a"], "--out", out, "--extractor", files["ts"]],
                      capsys)
    assert rc == 0, err
    return out


# --- 1. statistics other tools write, and statistics they can read -------------------------


def test_other_tools_statistics_give_the_same_fid_marked_unverified(files, capsys) -> None:
    ours = _stats(files, capsys)
    with np.load(ours) as z:
        mu, sigma = z["mu"], z["sigma"]
    tmp = files["tmp"]
    np.savez_compressed(tmp / "pytorch_fid.npz", mu=mu, sigma=sigma)  # pytorch-fid, clean-fid
    np.savez(tmp / "ttur.npz", mu=mu.astype(np.float32), sigma=sigma.astype(np.float32))
    images = np.random.default_rng(1).integers(0, 256, size=(12, 8, 8, 3), dtype=np.uint8)
    np.savez(tmp / "adm.npz", arr_0=images, mu=mu, sigma=sigma, mu_s=mu[:3],
             sigma_s=sigma[:3, :3])  # ADM's reference batch: images and two statistics
    want, _ = _fid_json([ours, files["b"]], files, capsys)
    assert want["card"]["notes"] == [] and want["card"]["real_fingerprint"]
    for name, rel in (("pytorch_fid.npz", 1e-12), ("ttur.npz", 1e-4), ("adm.npz", 1e-12)):
        got, _ = _fid_json([str(tmp / name), files["b"]], files, capsys)
        assert got["values"]["fid"] == pytest.approx(want["values"]["fid"], rel=rel)
        card = got["card"]
        assert card["n_real"] is None and card["real_fingerprint"] is None
        assert any(UNVERIFIED in note for note in card["notes"]), card["notes"]
    stats = FeatureStats.load(tmp / "pytorch_fid.npz")
    assert stats.n is None and stats.meta == {} and stats.origin == UNVERIFIED
    assert load_images(str(tmp / "adm.npz")).images.shape == (12, 3, 8, 8)  # arr_0 as images


def test_ganlab_statistics_read_as_pytorch_fid_and_clean_fid_read_them(files, capsys) -> None:
    path = _stats(files, capsys)
    f = np.load(path)  # pytorch-fid / TTUR: f['mu'][:], f['sigma'][:]; clean-fid: stats["mu"]
    m, s = f["mu"][:], f["sigma"][:]
    assert m.dtype == s.dtype == np.float64 and s.shape == (m.shape[0], m.shape[0])
    ours = FeatureStats.load(path)
    assert np.array_equal(m, ours.mu) and np.array_equal(s, ours.sigma) and ours.n == 40
    assert ours.origin == "ganlab" and ours.meta["format"] == "ganlab-stats/1"
    assert ours.meta["extractor"] == "torchscript:tiny.pt" and ours.meta["seed"] == "0"
    assert ours.fingerprint == cache.images_hash(load_images(files["a"]).images)
    written = FeatureStats(m, s, 5).save(files["tmp"] / "no_suffix")  # pytorch-fid wants .npz
    assert written.name == "no_suffix.npz" and FeatureStats.load(written).n == 5


def test_statistics_that_do_not_fit_are_refused(files, capsys, tmp_path) -> None:
    bad = tmp_path / "bad.npz"
    np.savez(bad, mu=np.zeros(3))
    with pytest.raises(GanlabError, match="needs float arrays 'mu' .* 'sigma'.*it has: mu"):
        FeatureStats.load(bad)
    np.savez(bad, mu=np.zeros(3), sigma=np.eye(4))
    with pytest.raises(GanlabError, match=r"'sigma' \(d, d\)"):
        FeatureStats.load(bad)
    np.savez(bad, mu=np.zeros(5), sigma=np.eye(5))  # the tiny extractor gives 16-d features
    rc, _, err = _run(["eval", "fid", str(bad), files["b"], "--extractor", files["ts"]], capsys)
    assert rc == 2 and "are 5-d but extractor torchscript:tiny.pt gives 16-d" in err


# --- 2. fingerprints --------------------------------------------------------------------------


def test_every_card_names_the_sets_it_compared(files, capsys) -> None:
    a, b = load_images(files["a"]).images, load_images(files["b"]).images
    fa, fb = cache.images_hash(a), cache.images_hash(b)
    card = _fid_json([files["a"], files["b"]], files, capsys)[0]["card"]
    assert (card["real_fingerprint"], card["fake_fingerprint"]) == (fa, fb)
    rc, out, _ = _run(["eval", "all", files["a"], files["b"], "--extractor", files["ts"],
                       "--subset-size", "20", "--json"], capsys)
    assert rc == 0
    for res in _strict(out).values():
        assert res["card"]["real_fingerprint"] == fa and res["card"]["fake_fingerprint"] == fb
    rc, out, _ = _run(["eval", "fid", files["a"], files["b"], "--extractor", files["ts"]], capsys)
    assert f"real={fa[:12]} fake={fb[:12]}" in out
    ext = api.as_extractor(files["ts"])
    assert api.kid(a, b, ext, subsets=2, subset_size=10).card.real_fingerprint == fa
    assert api.memorization(b, a).card.real_fingerprint == fa
    # the fingerprint is the cache's images hash: shape (so N) and bytes in order
    assert cache.images_hash(a[::-1]) != fa and cache.images_hash(a[:39]) != fa


def test_a_changed_set_is_named_with_both_fingerprints(files, capsys) -> None:
    stats = _stats(files, capsys)
    _, err = _fid_json([stats, files["a"]], files, capsys)  # the set it describes: unchanged
    assert "warning" not in err
    a = load_images(files["a"]).images
    old = cache.images_hash(a)
    a[0, 0, 0, 0] ^= 1  # one bit of one pixel
    np.savez(files["a"], images=a)
    new = cache.images_hash(a)
    res, err = _fid_json([stats, files["a"]], files, capsys)  # the same path, other bytes
    lines = [x for x in err.splitlines() if x.startswith("ganlab: warning:")]
    assert len(lines) == 1 and old[:16] in lines[0] and new[:16] in lines[0], err
    assert "not comparable" in lines[0] and any(old[:16] in n for n in res["card"]["notes"])
    other = files["tmp"] / "copy.npz"
    np.savez(other, images=a)
    _, err = _fid_json([stats, files["b"], "--check-against", str(other)], files, capsys)
    assert old[:16] in err and new[:16] in err
    np.savez(other, images=load_images(files["b"]).images)
    stats_b = _stats(files, capsys, files["b"], "sb.npz")
    _, err = _fid_json([stats_b, files["a"], "--check-against", str(other)], files, capsys)
    assert "warning" not in err  # the same images under another name: no warning


def test_check_against_needs_statistics_and_says_when_it_cannot_check(files, capsys) -> None:
    rc, _, err = _run(["eval", "fid", files["a"], files["b"], "--extractor", files["ts"],
                       "--check-against", files["a"]], capsys)
    assert rc == 2 and "--check-against compares a statistics file" in err
    ours = FeatureStats.load(_stats(files, capsys))
    foreign = files["tmp"] / "foreign.npz"
    np.savez(foreign, mu=ours.mu, sigma=ours.sigma)
    _, err = _fid_json([str(foreign), files["b"], "--check-against", files["a"]], files, capsys)
    assert "records no fingerprint (unverified: made by another tool)" in err


# --- image arrays -----------------------------------------------------------------------------


def test_npy_and_single_array_npz_read_as_images(tmp_path) -> None:
    rng = np.random.default_rng(2)
    nhwc = rng.integers(0, 256, size=(6, 5, 7, 3), dtype=np.uint8)
    want = nhwc.transpose(0, 3, 1, 2)
    np.save(tmp_path / "x.npy", nhwc)
    np.save(tmp_path / "f.npy", want.astype(np.float32) / 255)  # float in [0, 1], NCHW
    np.savez(tmp_path / "one.npz", samples=nhwc)  # any name, alone
    np.savez(tmp_path / "pos.npz", nhwc)  # np.savez(path, arr): arr_0
    np.savez(tmp_path / "grey.npz", x=nhwc[..., 0])  # (N, H, W)
    for name in ("x.npy", "f.npy", "one.npz", "pos.npz"):
        got = load_images(str(tmp_path / name)).images
        assert got.dtype == np.uint8 and np.array_equal(got, want), name
    assert np.array_equal(load_images(str(tmp_path / "grey.npz")).images, want[:, :1])


@pytest.mark.parametrize(
    ("array", "why"),
    [
        (np.zeros((10, 5), np.uint8), "2-D"),
        (np.zeros((4, 2, 8, 8), np.uint8), "no axis of 1, 3 or 4 channels"),
        (np.zeros((4, 8, 8), np.int32), "neither uint8 nor float"),
        (np.full((4, 8, 8), 2.0), "not in [0, 1]"),
    ],
)
def test_bad_layout_states_the_expected_layouts(tmp_path, array, why) -> None:
    np.save(tmp_path / "bad.npy", array)
    with pytest.raises(GanlabError) as info:
        load_images(str(tmp_path / "bad.npy"))
    msg = str(info.value)
    assert why in msg and "\n" not in msg
    assert "(N,H,W), (N,H,W,C) or (N,C,H,W)" in msg and "uint8 (0-255) or float in [0, 1]" in msg


def test_npz_of_several_arrays_or_of_statistics_says_what_it_needs(files, capsys) -> None:
    tmp = files["tmp"]
    np.savez(tmp / "two.npz", a=np.zeros((2, 4, 4), np.uint8), b=np.zeros(2))
    with pytest.raises(GanlabError, match="no 'images' array, and 2 arrays .*single array"):
        load_images(str(tmp / "two.npz"))
    stats = _stats(files, capsys)
    rc, _, err = _run(["eval", "kid", stats, files["b"], "--extractor", files["ts"]], capsys)
    assert rc == 2 and "holds statistics (mu, sigma), not images: only FID reads" in err


# --- strict JSON and non-finite inputs --------------------------------------------------------


def test_json_safe_turns_non_finite_values_into_null_with_a_note() -> None:
    obj = {"fid": float("nan"), "kid": np.float32("inf"), "vals": [1.0, -np.inf], "n": np.int64(3)}
    safe, notes = json_safe(obj)
    assert safe == {"fid": None, "fid_note": "not finite (nan)", "kid": None,
                    "kid_note": "not finite (inf)", "vals": [1.0, None],
                    "vals_note": "not finite (-inf) at [1]", "n": 3}
    assert notes == {"fid": "not finite (nan)", "kid": "not finite (inf)",
                     "vals[1]": "not finite (-inf)"}
    res = MetricResult({"fid": float("nan")}, MetricCard("fid"))
    assert _strict(res.to_json())["values"] == {"fid": None, "fid_note": "not finite (nan)"}
    assert "NaN" not in dumps_strict({"x": [float("nan")]})
    card = joint_card({"fid": res, "kid": MetricResult({}, MetricCard("kid", extra={"s": np.nan}))})
    assert card["metrics"]["kid"] == {"s": None, "s_note": "not finite (nan)"}


def test_cli_json_is_strict_when_a_value_is_not_finite(files, capsys, monkeypatch) -> None:
    from ganlab.metrics import frechet

    monkeypatch.setattr(frechet, "frechet_distance", lambda *a: float("nan"))
    res, _ = _fid_json([files["a"], files["b"]], files, capsys)  # _strict refuses NaN
    assert res["values"] == {"fid": None, "fid_note": "not finite (nan)"}


def test_non_finite_inputs_are_refused_in_one_line(files, tmp_path) -> None:
    images = np.full((4, 8, 8), 0.5)
    images[1, 2, 3] = np.nan
    np.savez(tmp_path / "nan.npz", images=images)
    with pytest.raises(GanlabError, match="images contain NaN or infinite values"):
        load_images(str(tmp_path / "nan.npz"))
    np.savez(tmp_path / "nanstats.npz", mu=np.array([0.0, np.inf]), sigma=np.eye(2))
    with pytest.raises(GanlabError, match="statistics contain NaN"):
        FeatureStats.load(tmp_path / "nanstats.npz")
    with pytest.raises(GanlabError, match="features contain NaN"):
        FeatureMoments.empty(2).update(np.array([[0.0, np.nan]]))

    class Broken(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.log(x.flatten(1)[:, :4] - 2.0)  # log of a negative: NaN

    from ganlab.features import module_extractor

    ext = module_extractor(Broken(), name="broken")
    a = load_images(files["a"]).images
    for metric in (api.fid, api.kid, api.prdc):
        with pytest.raises(GanlabError) as info:
            metric(a, a, ext, use_cache=False)
        assert "contain NaN or infinite values" in str(info.value)
        assert "\n" not in str(info.value)
