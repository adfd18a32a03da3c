"""``~/.minimrc`` applied to click: the group's ``--user-conf`` option and each command's default values."""

from __future__ import annotations

from typing import Any

import click

from minim.errors import ConfigError
from minim.suggest import did_you_mean
from minim.userconf import UserValue, read_user_defaults, user_conf_path

#: mim's option names that minim spells differently
MIM_OPTION_NAMES = {"is_yes": "yes"}


def load_user_defaults(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    """Eager callback of ``--user-conf``: read the user-defaults file into the group's ``default_map``."""
    path = user_conf_path(value)
    if path is not None:
        ctx.default_map = read_user_defaults(path)


def command_defaults(ctx: click.Context, command: click.Command, values: dict[str, Any]) -> dict[str, Any]:
    """The ``default_map`` of ``command`` from its section's values, checked against its options' types."""
    options = _options_by_name(command)
    defaults: dict[str, Any] = {}
    for key, words in values.items():
        if isinstance(words, dict):
            if not isinstance(command, click.Group):
                raise ConfigError(f"user defaults: 'minim {command.name}' has no sub-command {key!r}",
                                  hint=f"use an [options.{command.name}] section")
            defaults[key] = words
            continue
        param = options.get(MIM_OPTION_NAMES.get(key, key).replace("-", "_"))
        if param is None:
            hint = did_you_mean(key, _spelled_options(command))
            raise ConfigError(f"{words.where}: [{words.section}] {key!r} is not an option of 'minim {command.name}'",
                              hint=hint or f"see 'minim {command.name} --help'")
        defaults[param.name] = _value_for(ctx, param, words)
    return defaults


def _options_by_name(command: click.Command) -> dict[str, click.Option]:
    options: dict[str, click.Option] = {}
    for param in command.params:
        if not isinstance(param, click.Option) or param.hidden:
            continue
        options[param.name] = param
        for opt in (*param.opts, *param.secondary_opts):
            if opt.startswith("--"):
                options.setdefault(opt[2:].replace("-", "_"), param)
    return options


def _spelled_options(command: click.Command) -> list[str]:
    """The long option names of ``command`` as a user writes them in the file (``--work-dir`` is ``work_dir``)."""
    return sorted({opt[2:].replace("-", "_") for param in command.params if isinstance(param, click.Option)
                   for opt in (*param.opts, *param.secondary_opts) if opt.startswith("--")})


def _value_for(ctx: click.Context, param: click.Option, words: UserValue) -> Any:
    if param.multiple or param.nargs != 1:
        value: Any = list(words)
    elif len(words) == 1:
        value = words[0]
    else:
        raise ConfigError(f"{words.where}: [{words.section}] {param.name} takes one value, got {len(words)} words",
                          hint="quote a value that contains spaces")
    try:
        return param.type_cast_value(ctx, value)
    except click.BadParameter as exc:
        raise ConfigError(f"{words.where}: [{words.section}] {param.name}: {exc.format_message()}") from None
