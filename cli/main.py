"""Entry point of the ``gcms`` command; subcommands load lazily so ``gcms --help`` is fast."""

from __future__ import annotations

import importlib
import importlib.util

import click

import gcms

# command name -> (module in gcms_cli, attribute). A command whose module is not
# installed yet is simply not listed.
_COMMANDS: dict[str, tuple[str, str]] = {
    "about": ("gcms_cli.about", "about"),
    "info": ("gcms_cli.info", "info"),
    "plot": ("gcms_cli.info", "plot"),
    "library": ("gcms_cli.library", "library"),
    "deconvolve": ("gcms_cli.deconvolve", "deconvolve"),
    "identify": ("gcms_cli.identify", "identify"),
    "batch": ("gcms_cli.identify", "batch"),
    "quant": ("gcms_cli.quant", "quant"),
    "qa": ("gcms_cli.qa", "qa"),
    "case": ("gcms_cli.custody", "case"),
    "exhibit": ("gcms_cli.custody", "exhibit"),
    "run": ("gcms_cli.custody", "run_group"),
    "custody": ("gcms_cli.custody", "custody"),
    "key": ("gcms_cli.custody", "key"),
    "store": ("gcms_cli.custody", "store_group"),
    "user": ("gcms_cli.custody", "user"),
    "report": ("gcms_cli.report", "report"),
    "rescreen": ("gcms_cli.rescreen", "rescreen"),
    "sequence": ("gcms_cli.sequence", "sequence"),
    "compare": ("gcms_cli.compare", "compare"),
    "review": ("gcms_cli.review", "review"),
    "profile": ("gcms_cli.profile", "profile"),
}


class _LazyGroup(click.Group):
    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        # ``gcms --version --json``: the versions of everything in use, as ``gcms about``
        head = args[: next((i for i, a in enumerate(args) if not a.startswith("-")),
                           len(args))]
        if "--version" in head and "--json" in head:
            from gcms_cli.about import print_about

            print_about(as_json=True)
            ctx.exit(0)
        return super().parse_args(ctx, args)

    def resolve_command(self, ctx: click.Context, args: list[str]):
        name, command, rest = super().resolve_command(ctx, args)
        if command is not None and not ctx.resilient_parsing:  # kernels: once, not silently
            from gcms_cli._kernels import prepare_before

            prepare_before(name, rest)
        return name, command, rest

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(
            name for name, (module, _) in _COMMANDS.items()
            if importlib.util.find_spec(module) is not None
        )

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in _COMMANDS:
            return None
        module_name, attribute = _COMMANDS[name]
        if importlib.util.find_spec(module_name) is None:
            return None
        return getattr(importlib.import_module(module_name), attribute, None)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(gcms.__version__, prog_name="gcms")
def cli() -> None:
    """Open GC-MS toolkit for forensic drug laboratories."""
