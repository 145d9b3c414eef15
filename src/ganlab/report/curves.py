"""Curve groups: which logged numbers the report draws in one figure.

A family declares its groups (:attr:`ganlab.engine.family.Family.curves`); the loop writes them
to ``run_info.json`` and the report reads them back from there. Runs made before families
declared them get the adversarial pair's groups, :data:`GAN_CURVES`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CurveGroup:
    """Logged numbers drawn in one figure: ``keys`` under ``title`` (file ``name``.png)."""

    name: str
    title: str
    keys: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "keys": list(self.keys)}

    @classmethod
    def from_json(cls, data: Any) -> CurveGroup | None:
        """The group written by :meth:`to_json`; None for anything else."""
        if not isinstance(data, dict) or not {"name", "title", "keys"} <= set(data):
            return None
        return cls(str(data["name"]), str(data["title"]), tuple(str(k) for k in data["keys"]))


# every family that logs its networks' gradient norms under these names
GRAD_NORMS = CurveGroup("grad_norms", "Gradient norms (L2, all parameters)",
                        ("d_grad_norm", "g_grad_norm"))
# the curves of an adversarial pair; a family with other numbers declares its own
GAN_CURVES = (
    CurveGroup("losses", "Losses", ("d_loss", "g_loss", "d_adv", "gp", "r1")),
    CurveGroup("d_outputs", "Discriminator on real and generated data", ("d_real", "d_fake")),
    GRAD_NORMS,
)


def curve_groups(info: dict[str, Any] | None = None) -> list[CurveGroup]:
    """The figures of a run from its ``run_info.json`` facts: the curves its family declared,
    else :data:`GAN_CURVES`."""
    declared = (info or {}).get("curves")
    if isinstance(declared, list):
        groups = [g for g in map(CurveGroup.from_json, declared) if g is not None]
        if groups:
            return groups
    return list(GAN_CURVES)
