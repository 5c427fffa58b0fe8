"""Strongroom: a registry service built so bulk extraction is hard while it happens and
useless after it happens. docs/architecture.md maps the layers and the request path."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("strongroom")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0.0.0+unknown"
