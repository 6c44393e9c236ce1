"""What `--help` shows after an option: a name for its value (BRANCH, N, WHEN), nothing after a flag; an
argument in the usage line as NAME or [NAME]; and that a command group given no command shows its help and exits 0
(HelpWhenBare).

Typer (0.2x) prints the Python type of an option without a metavar (`--json <bool>`, `--branch <str>`,
`--status <list[str]>`, `--limit <int range>`) and of every argument, whose own column already names it
(`RUN_ID <str>`). `install()` makes flags and arguments show no value name and derives one from the option
name otherwise; a metavar given in the option wins. tests/cli/test_help.py walks every command's help."""

from __future__ import annotations

import inspect
from typing import Any

import typer
from typer.core import TyperGroup

# Value names for option names whose upper-cased name would not say what to write.
VALUE_NAMES = {
    'since': 'WHEN',
    'until': 'WHEN',
    'cursor': 'ID',
    'search': 'TEXT',
    'repository': 'PATH_OR_URL',
    'format': 'FORMAT',
}


def value_name(param: Any) -> str | None:
    """The name shown after a parameter in help: an option's metavar; none for a flag or an argument; else
    one from the option's name (a number with bounds is N)."""
    if getattr(param, 'param_type_name', None) != 'option':
        return None  # an argument: the column before already shows its metavar or name
    if param.metavar is not None:
        return str(param.metavar)
    if param.is_flag:
        return None
    long_names = [opt for opt in param.opts if opt.startswith('--')] or list(param.opts)
    name = long_names[0].lstrip('-')
    if name in VALUE_NAMES:
        return VALUE_NAMES[name]
    descriptor = getattr(param, 'type_descriptor', None)
    if descriptor is not None and getattr(descriptor, 'is_ranged', False):
        return 'N'
    return name.upper().replace('-', '_')


def usage_name(param: Any) -> str:
    """An argument in the usage line, as click and man pages write it: NAME when required, [NAME] when not, then
    ... when it takes several; a metavar that has its brackets already ([RUN_ID]...) is kept."""
    name = str(param.metavar or param.name.upper())
    if not param.required and not name.startswith('['):
        name = f'[{name}]'
    if param.nargs != 1 and not name.endswith('...'):
        name += '...'
    return name


def install() -> None:
    """Use value_name() in typer's rich help (a no-op with a typer that has no type column), and usage_name() in
    its usage line (typer 0.2x writes a required argument {NAME})."""
    from typer import core  # noqa: PLC0415  (loaded by the one command that needs it: the CLI starts fast)

    for cls in (core.TyperOption, core.TyperArgument):
        if hasattr(cls, 'display_type_rich'):
            cls.display_type_rich = lambda self, ctx: value_name(self)  # type: ignore[method-assign]
    if hasattr(core.TyperArgument, '_usage_display_name'):
        core.TyperArgument._usage_display_name = lambda self: usage_name(self)  # type: ignore[method-assign]


def one_line_summaries(app: typer.Typer) -> None:
    """A command's row in its group's list is its help's first paragraph on one line. Typer's rich mode keeps
    the docstring's line breaks in that row, which cut the summary mid-sentence ("must be reachable" / "and
    have the base branch")."""
    for info in app.registered_commands:
        if info.short_help is None and info.callback is not None:
            first = (info.help or inspect.getdoc(info.callback) or '').split('\n\n')[0]
            if '\n' in first:
                info.short_help = ' '.join(first.split())
    for group in app.registered_groups:
        if group.typer_instance is not None:
            one_line_summaries(group.typer_instance)


class HelpWhenBare(TyperGroup):
    """A group run without a command (`runboard`, `runboard runs`) prints its help and exits 0, as `gh` and `gh pr`
    do. Click (8.2 on) prints it as a usage error, exit 2, which a script reads as a mistake."""

    # ctx: typer's own copy of click's Context (typer._click), which typer does not export
    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if not args and self.no_args_is_help and not ctx.resilient_parsing:
            typer.echo(ctx.get_help(), color=ctx.color)  # as --help does
            ctx.exit()
        return super().parse_args(ctx, args)


class DefaultCommand(HelpWhenBare):
    """A group that also answers as its `default` command did before it was a group: `runboard notifications
    deliveries PROJECT` lists as it always did, beside `deliveries show DELIVERY_ID`. A first word that is none of its
    commands (nor --help) goes to `default`, options and all."""

    default = 'list'

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = [self.default, *args]
        return super().parse_args(ctx, args)


def help_when_bare(app: typer.Typer) -> None:
    """Make `app` and every group under it a HelpWhenBare (a group with a class of its own, a DefaultCommand, keeps
    it: it is one)."""
    if not (isinstance(app.info.cls, type) and issubclass(app.info.cls, HelpWhenBare)):
        app.info.cls = HelpWhenBare
    for group in app.registered_groups:
        if group.typer_instance is not None:
            help_when_bare(group.typer_instance)
