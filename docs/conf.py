"""Sphinx configuration: MyST Markdown pages, autodoc reference, furo theme."""

from __future__ import annotations

project = "evcharge_core"
author = "the evcharge_core developers"
copyright = "2026, the evcharge_core developers"  # noqa: A001 - Sphinx's name for it

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
exclude_patterns = ["_build"]
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3
html_theme = "furo"
autodoc_member_order = "bysource"
autodoc_typehints = "description"
nitpicky = False
