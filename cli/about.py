"""``gcms about``: the versions of gcms, Python and every dependency in use."""

from __future__ import annotations

import click
from gcms_cli._common import emit_json


def print_about(as_json: bool) -> None:
    """Print :func:`gcms.about.about` as JSON or as aligned lines."""
    from gcms.about import about as facts

    info = facts()
    if as_json:
        emit_json(info)
        return
    click.echo(f"gcms {info['gcms']}")
    click.echo(f"python {info['python']} ({info['platform']})")
    width = max((len(n) for n in info["dependencies"]), default=0)
    for name, version in info["dependencies"].items():
        click.echo(f"  {name:<{width}}  {version}")
    for extra, packages in info.get("extras", {}).items():
        click.echo(f"extra [{extra}]:")
        for name, version in packages.items():
            click.echo(f"  {name:<{width}}  {version}")


@click.command("about")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def about(as_json: bool) -> None:
    """Versions of gcms, Python and every dependency in use (what a report records)."""
    print_about(as_json)
