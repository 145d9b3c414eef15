"""CycleGAN: unpaired translation with cycle consistency (the family), its history pool of
generated images, and its evaluation (cycle error, FID per direction, faithfulness)."""

from ganlab.families.cyclegan.family import CycleGANConfig, CycleGANFamily

__all__ = ["CycleGANConfig", "CycleGANFamily"]
