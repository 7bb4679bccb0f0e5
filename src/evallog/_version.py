"""The evallog version (imported by modules that record it; never the package ``__init__``)."""

__version__ = "0.1.0"
