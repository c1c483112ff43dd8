"""The bundled runbooks: one YAML file per vendor in this folder."""

from pathlib import Path

__all__ = ["BUNDLED_DIR"]

BUNDLED_DIR = Path(__file__).resolve().parent
"""The folder holding the bundled ``*.yaml`` runbooks."""
