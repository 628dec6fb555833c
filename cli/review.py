"""``gcms review``: the review workstation, a local web application over a case store."""

from __future__ import annotations

import sys

import click
from gcms_cli._common import EXIT_INPUT, error_line


@click.command("review")
@click.option("--store", "store_location", envvar="GCMS_STORE", required=True,
              metavar="DIR|URL", help="Case store (folder or postgresql:// URL) [env GCMS_STORE].")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to listen on; anything but loopback prints a warning.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(1, 65535))
@click.option("--lab", type=click.Path(exists=True, dir_okay=False),
              help="Laboratory profile (TOML) used for the reports issued from the screen.")
@click.option("--keys", "keys_dir", type=click.Path(exists=True, file_okay=False),
              help="Folder of the users' key files (USER.key), proposed when signing.")
@click.option("--reports", "reports_dir", type=click.Path(file_okay=False),
              help="Where issued reports are written [default: STORE/reports].")
def review(store_location, host, port, lab, keys_dir, reports_dir):
    """Start the review workstation: sign in, review exhibits, decide, sign, issue.

    \b
    Open http://127.0.0.1:8765 in a browser on this computer. Users sign in with the
    store's users and passwords (gcms user password); every signature asks for the
    user's key file and passphrase.
    """
    from gcms.review import ReviewSettings, serve
    from gcms.review.serve import bind_warning

    warning = bind_warning(host)
    if warning:
        click.echo(warning, err=True)
    from gcms.errors import GcmsError

    click.echo(f"gcms review: store {store_location} at http://{host}:{port}/ (Ctrl-C stops)")
    try:
        serve(ReviewSettings(store=store_location, lab=lab, keys_dir=keys_dir,
                             reports_dir=reports_dir), host=host, port=port)
    except GcmsError as error:
        error_line(str(error))
        sys.exit(EXIT_INPUT)
