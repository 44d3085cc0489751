"""The package version, importable by every layer (the artifact records it)."""
__version__ = "0.1.0"
