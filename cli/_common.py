"""Shared pieces of the command-line shell: error lines, JSON output, exit codes."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any

import click

#: Exit codes of every gcms command.
EXIT_OK = 0
EXIT_FINDINGS = 1  # a check ran and failed (QA, verification)
EXIT_INPUT = 2  # usage or input error


def error_line(message: str) -> None:
    """One line on stderr naming the input and the problem (no traceback)."""
    click.echo(f"gcms: error: {message}", err=True)


class CommandError(click.ClickException):
    """A command's failure as the shell shows it: one error line, and its exit code.

    Raised inside a command, click prints it (:func:`error_line`) and exits with
    ``exit_code`` (:data:`EXIT_INPUT` unless given), as click's own exceptions carry theirs.
    """

    def __init__(self, message: str, exit_code: int = EXIT_INPUT) -> None:
        super().__init__(message)
        self.exit_code = exit_code

    def show(self, file: Any = None) -> None:
        """Print the error line on stderr."""
        error_line(self.format_message())


def guarded(function: Callable) -> Callable:
    """Turn a gcms error raised by a command into :class:`CommandError`.

    A break in the evidence (:class:`gcms.errors.TamperError`) is a finding: exit
    :data:`EXIT_FINDINGS`; any other gcms error is bad input: exit :data:`EXIT_INPUT`.
    """

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from gcms.errors import GcmsError, TamperError

        try:
            return function(*args, **kwargs)
        except TamperError as error:
            raise CommandError(str(error), EXIT_FINDINGS) from error
        except GcmsError as error:
            raise CommandError(str(error), EXIT_INPUT) from error

    return wrapper


def library_for(library_path: str | None, *data: str) -> str:
    """The ``--library`` given; without one, the demo's own library for the demo's data only.

    A batch has no default library (:func:`gcms.batch.run_batch`): only when every data
    file named is a bundled demo file (:func:`gcms.demo.is_demo_file`) is the demo
    library the one meant. Otherwise a :class:`CommandError` (exit 2).
    """
    if library_path:
        return library_path
    from gcms.demo import demo_library_path, is_demo_file

    if data and all(is_demo_file(path) for path in data):
        return str(demo_library_path())
    raise CommandError("no --library given: name the compiled library to search "
                       "(only the bundled demo data is searched in the demo library "
                       "without one)")


def emit_json(value: Any) -> None:
    """Print ``value`` as JSON on stdout (NaN and infinities as null)."""
    from gcms._json import json_safe

    json.dump(json_safe(value, str_keys=False), sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")
