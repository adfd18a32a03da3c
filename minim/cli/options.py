"""Click arguments, options and command classes shared by several commands."""

from __future__ import annotations

import click

from minim.errors import NotFoundError


class CodebaseType(click.ParamType):
    """Resolves a codebase name through :func:`minim.codebases.get_codebase`."""

    name = "codebase"

    def convert(self, value, param, ctx):
        from minim.codebases import Codebase, get_codebase

        if isinstance(value, Codebase):
            return value
        try:
            return get_codebase(value)
        except NotFoundError as exc:
            self.fail(str(exc), param, ctx)


def codebase_argument(func):
    """The ``CODEBASE`` positional argument (e.g. ``cls``)."""
    return click.argument("codebase", type=CodebaseType(), metavar="CODEBASE")(func)


CFG_OPTIONS_FLAG = "--cfg-options"


def expand_cfg_options(args: list[str]) -> list[str]:
    """Rewrite ``--cfg-options a=1 b=2`` (mmcv's nargs='+' form) into repeated flags click understands."""
    out: list[str] = []
    i = 0
    while i < len(args):
        token = args[i]
        out.append(token)
        i += 1
        if token == CFG_OPTIONS_FLAG:
            first = True
            while i < len(args) and "=" in args[i] and not args[i].startswith("-"):
                if not first:
                    out.append(CFG_OPTIONS_FLAG)
                out.append(args[i])
                first = False
                i += 1
        elif token == "--":
            out.extend(args[i:])
            break
    return out


class CfgOptionsCommand(click.Command):
    """A command whose ``--cfg-options`` takes several ``KEY=VALUE`` pairs after one flag."""

    def parse_args(self, ctx, args):
        return super().parse_args(ctx, expand_cfg_options(list(args)))


def cfg_options_option(func):
    """``--cfg-options key=value ...`` overrides, collected as a list of strings."""
    return click.option(
        CFG_OPTIONS_FLAG,
        "cfg_options",
        multiple=True,
        metavar="KEY=VALUE...",
        help="Override config keys, e.g. model.head.num_classes=10 'data.train.pipeline.1.size=32' "
        "optimizer.lr=0.01 (several pairs may follow one flag; quote brackets in the shell).",
    )(func)
