"""The GUI's SVG icons; installed as the package ``app._icons`` (see pyproject.toml)."""
