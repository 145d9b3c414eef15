"""The engine's random streams: one table, stable seeds, state that round-trips, and the
checkpoints written before the engine owned them."""

from __future__ import annotations

import torch

from ganlab.engine.streams import HASHED_BASE, OFFSETS, Streams, offset_of


def test_seeds_come_from_the_table_and_unknown_names_from_a_stable_hash() -> None:
    s = Streams(10)
    assert s.seed("train") == 11 and s.seed("eval") == 14 and s.seed("snapshot") == 12
    assert offset_of("my-family-noise") == offset_of("my-family-noise") >= HASHED_BASE
    assert offset_of("my-family-noise") != offset_of("my-family-noise2")
    assert all(offset_of(name) < HASHED_BASE for name in OFFSETS)


def test_a_stream_is_one_object_and_fixed_seeds_repeat() -> None:
    s = Streams(3)
    assert s.generator("pool-a") is s.generator("pool-a")
    assert torch.equal(torch.rand(4, generator=s.fixed("eval")),
                       torch.rand(4, generator=s.fixed("eval")))
    assert s.names() == ["pool-a"]


def test_state_round_trips_and_resumes_the_same_draws() -> None:
    a = Streams(0)
    torch.rand(5, generator=a.generator("train"))
    torch.rand(3, generator=a.generator("pool-b"))
    b = Streams(0)
    b.load_state_dict(a.state_dict())
    for name in ("train", "pool-b"):
        assert torch.equal(torch.rand(6, generator=a.generator(name)),
                           torch.rand(6, generator=b.generator(name)))


def test_streams_saved_by_a_family_in_older_checkpoints_are_restored() -> None:
    old_train = torch.Generator().manual_seed(123)
    torch.rand(7, generator=old_train)
    pool = torch.Generator().manual_seed(5)
    legacy = {"gen": old_train.get_state(), "gen_device": "cpu",
              "pool_a": {"images": torch.empty(0), "generator": pool.get_state()}}
    s = Streams(0)
    s.load_legacy(legacy)
    assert torch.equal(torch.rand(4, generator=s.generator("train")),
                       torch.rand(4, generator=old_train))
    assert torch.equal(torch.rand(4, generator=s.generator("pool-a")),
                       torch.rand(4, generator=pool))


def test_a_train_stream_from_another_device_kind_restarts_and_says_so() -> None:
    said: list[str] = []
    s = Streams(0, log=said.append)
    fresh = torch.rand(3, generator=Streams(0).generator("train"))
    s.load_state_dict({"device": "cuda", "states": {"train": torch.Generator().get_state()}})
    assert torch.equal(torch.rand(3, generator=s.generator("train")), fresh)
    assert said and "restart from the seed" in said[0]
