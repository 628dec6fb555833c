"""Packaged wording of reports, one TOML file per language."""
