"""The command line's one error handling (gcms_cli._common): one line, the exit code it carries."""

import click
import pytest
from click.testing import CliRunner
from gcms_cli._common import EXIT_FINDINGS, EXIT_INPUT, CommandError, guarded

from gcms.errors import FormatError, TamperError


@click.command()
@click.argument("what")
@guarded
def probe(what: str) -> None:
    if what == "tamper":
        raise TamperError("store.db: audit entry 7 changed")
    if what == "format":
        raise FormatError("run.cdf: not a netCDF file")
    if what == "own":
        raise CommandError("told so", 3)
    click.echo("fine")


@pytest.mark.parametrize(("what", "code", "line"), [
    ("tamper", EXIT_FINDINGS, "gcms: error: store.db: audit entry 7 changed"),
    ("format", EXIT_INPUT, "gcms: error: run.cdf: not a netCDF file"),
    ("own", 3, "gcms: error: told so"),
    ("ok", 0, "fine"),
])
def test_a_gcms_error_is_one_line_and_its_exit_code(what, code, line):
    result = CliRunner().invoke(probe, [what])
    assert result.exit_code == code
    assert result.output.splitlines() == [line]   # no traceback, no usage text


def test_guarded_keeps_the_command_and_its_error_chain():
    assert probe.callback.__name__ == "probe"
    with pytest.raises(CommandError) as caught:
        probe.callback("tamper")
    assert isinstance(caught.value.__cause__, TamperError)
    assert caught.value.exit_code == EXIT_FINDINGS
