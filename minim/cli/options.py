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
#: ``context_settings`` giving ``-h`` as well as ``--help``
HELP = {"help_option_names": ["-h", "--help"]}
#: options whose values are ``KEY=VALUE`` pairs: only such tokens are taken after the flag
KEY_VALUE_OPTIONS = (CFG_OPTIONS_FLAG, "--metric-options")


def expand_multi_value_options(args: list[str], names: tuple[str, ...]) -> list[str]:
    """Rewrite mmcv's ``--opt a b`` (argparse nargs='+') into ``--opt a --opt b``, which click understands.

    Values run up to the next token starting with ``-``; for :data:`KEY_VALUE_OPTIONS` only tokens
    holding ``=`` count, so a positional argument after ``--cfg-options a=1`` stays positional.
    Everything after ``--`` is left alone.
    """
    out: list[str] = []
    i = 0
    while i < len(args):
        token = args[i]
        out.append(token)
        i += 1
        if token == "--":
            out.extend(args[i:])
            break
        if token not in names:
            continue
        first = True
        while i < len(args) and not args[i].startswith("-") and (token not in KEY_VALUE_OPTIONS or "=" in args[i]):
            if not first:
                out.append(token)
            out.append(args[i])
            first = False
            i += 1
    return out


class MultiValueCommand(click.Command):
    """A command whose ``--cfg-options``, ``--metric-options`` and ``multi_value_options`` take several
    values after one flag."""

    def __init__(self, *args, multi_value_options: tuple[str, ...] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.multi_value_options = tuple(multi_value_options) + KEY_VALUE_OPTIONS

    def parse_args(self, ctx, args):
        return super().parse_args(ctx, expand_multi_value_options(list(args), self.multi_value_options))

    def format_options(self, ctx, formatter):
        """Options under section headings (see :func:`in_help_section`): the command's own first."""
        sections: dict[str, list] = {}
        for param in self.get_params(ctx):
            if isinstance(param, click.Argument):  # named in the usage line
                continue
            record = param.get_help_record(ctx)
            if record is not None:
                sections.setdefault(getattr(param, HELP_SECTION_ATTR, "Options"), []).append(record)
        for title, records in sections.items():
            with formatter.section(title):
                formatter.write_dl(records)


#: attribute of a click parameter naming the ``--help`` section it is listed under
HELP_SECTION_ATTR = "minim_help_section"


def in_help_section(title: str, decorators):
    """Apply click option ``decorators`` and list the options they add under ``title`` in ``--help``."""
    def apply(func):
        before = len(getattr(func, "__click_params__", []))
        for decorator in reversed(list(decorators)):
            func = decorator(func)
        for param in func.__click_params__[before:]:
            setattr(param, HELP_SECTION_ATTR, title)
        return func
    return apply


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


#: the options of ``minim train`` that shape a run; ``gridsearch`` passes them on to every run
_TRAINING_OPTIONS = [
    click.option("--device", help="auto (default: CUDA, then MPS, then CPU), cpu, cuda, cuda:N or mps."),
    click.option("--seed", type=int, help="Random seed (default: the config's seed, else a random one, logged)."),
    click.option("--deterministic", is_flag=True, help="Ask torch for deterministic kernels."),
    click.option("--amp", is_flag=True, help="Mixed precision: fp16 + loss scaling on CUDA, bf16 on CPU."),
    click.option("--channels-last", is_flag=True, help="Use the channels_last memory format."),
    click.option("--auto-scale-lr", is_flag=True, help="Scale the lr linearly to the real batch size "
                 "(samples_per_gpu x processes vs auto_scale_lr.base_batch_size in the config)."),
    click.option("--sync-bn", is_flag=True, help="SyncBatchNorm in distributed runs on CUDA (also: sync_bn=True "
                 "in the config)."),
]


def training_options(func):
    """Add ``--device --seed --deterministic --amp --channels-last --auto-scale-lr --sync-bn``."""
    return in_help_section("Device and run options", _TRAINING_OPTIONS)(func)


class json_errors:
    """With ``--json``, a :class:`MinimError` is also printed on stdout as ``{"ok": false, "error": ..., "hint":
    ...}`` (then re-raised: stderr still gets the one-line message and the exit status is the same)."""

    def __init__(self, as_json: bool):
        self.as_json = as_json

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, traceback):
        from minim.errors import MinimError

        if self.as_json and isinstance(exc, MinimError) and not getattr(exc, "json_reported", False):
            import json

            click.echo(json.dumps({"ok": False, "error": exc.message, "hint": exc.hint,
                                   "exit_code": exc.exit_code}, indent=2))
        return False
