"""The package version, in a module of its own so any part of ganlab can name it without
importing the package's face (:mod:`ganlab`)."""

__version__ = "0.1.0"
