"""Photoseek's runtime data files (desktop entry, AppStream metainfo, default schema, stylesheet).

This folder is installed as the package ``app._resources`` (see ``[tool.setuptools.package-dir]`` in
pyproject.toml) and frozen into the bundle under the same name; read it through ``app.resources``, never by
path, so the same code works from a checkout, an installed wheel and a frozen bundle.
"""
