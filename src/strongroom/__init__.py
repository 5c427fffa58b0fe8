"""Strongroom: a registry service built so bulk extraction is hard while it happens and
useless after it happens. See DESIGN.md in the shared folder for the map of the layers."""

__version__ = "0.1.0"
