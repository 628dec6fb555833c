"""``gcms about`` and ``gcms --version --json``: the versions of everything in use."""

from __future__ import annotations

import json
from importlib import metadata

import numpy
from click.testing import CliRunner
from gcms_cli.main import cli

import gcms
from gcms.about import about, dependency_versions


def test_versions_of_gcms_python_and_every_dependency():
    facts = about()
    assert facts["gcms"] == gcms.__version__
    deps = facts["dependencies"]
    # every direct requirement and what they pull in (matchms -> pandas), as installed
    for name in ("numpy", "scipy", "h5py", "matplotlib", "click", "fpdf2", "pyhanko",
                 "cryptography", "sqlalchemy", "matchms", "pandas"):
        assert deps[name] == metadata.version(name), name
    assert deps["numpy"] == numpy.__version__
    assert list(deps) == sorted(deps)
    # the test extra is installed here, apart from the core
    assert "pytest" not in deps and "pytest" in facts["extras"]["test"]
    assert dependency_versions() == deps


def test_about_and_version_json_commands():
    runner = CliRunner()
    about_json = runner.invoke(cli, ["about", "--json"])
    assert about_json.exit_code == 0, about_json.output
    version_json = runner.invoke(cli, ["--version", "--json"])
    assert version_json.exit_code == 0, version_json.output
    assert json.loads(version_json.output) == json.loads(about_json.output)
    assert json.loads(about_json.output)["dependencies"]["numpy"] == numpy.__version__
    plain = runner.invoke(cli, ["--version"])
    assert plain.exit_code == 0 and plain.output.strip() == f"gcms, version {gcms.__version__}"
    text = runner.invoke(cli, ["about"])
    assert text.exit_code == 0 and "numpy" in text.output and gcms.__version__ in text.output
