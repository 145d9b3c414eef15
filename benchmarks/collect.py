"""Assemble docs/benchmarks.md from the per-benchmark sections in docs/benchmarks/*.md.

Each benchmark script writes its own section (with the command that made it, the date and
the machine); this script only concatenates them in a fixed order, so the combined page never
holds a number that no script printed.

    python benchmarks/collect.py
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SECTIONS = ROOT / "docs" / "benchmarks"
ORDER = ["modes_2d", "stacked_modes", "train_speed", "metrics", "fashion_fid",
         "fashion_fid_inception", "ddp_scaling", "guard_cost", "translation_pix2pix",
         "translation_cyclegan", "seq_oracle", "seq_text"]

HEADER = """# Benchmarks

Every table below was written by a script in `benchmarks/`; each section names the command,
the date and the machine. Rows quoted from papers are marked as quoted, not measured here.
Regenerate this page with `python benchmarks/collect.py` after re-running a benchmark.
"""


def main() -> None:
    parts = [HEADER]
    found = {p.stem: p for p in SECTIONS.glob("*.md")}
    for name in [*ORDER, *sorted(set(found) - set(ORDER))]:
        if name in found:
            # a section's figure links are relative to docs/benchmarks/; the page is in docs/
            text = found[name].read_text().strip().replace("](../figures/", "](figures/")
            parts.append(text + "\n")
    out = ROOT / "docs" / "benchmarks.md"
    out.write_text("\n\n".join(parts))
    print(f"wrote {out} ({len(parts) - 1} sections)")


if __name__ == "__main__":
    main()
