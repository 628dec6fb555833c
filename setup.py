"""Package discovery that pyproject.toml alone cannot express.

The command-line shell lives in ``cli/`` but installs as the package ``gcms_cli`` (never as
a top-level ``cli``), beside every package under ``gcms/``.
"""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["gcms", "gcms.*"]), "gcms_cli"],
    package_dir={"gcms_cli": "cli"},
)
