"""mmcv-style ``--opt a b c`` options (argparse ``nargs='+'``) for click tools."""

from __future__ import annotations

from minim.cli.options import CfgOptionsCommand

#: ``context_settings`` of the tools: ``-h`` as well as ``--help``
HELP = {"help_option_names": ["-h", "--help"]}


def expand_multi_value_options(args: list[str], names: tuple[str, ...]) -> list[str]:
    """Rewrite ``--keys a b`` into ``--keys a --keys b`` for each option in ``names``.

    Values are taken up to the next token that starts with ``-`` (or ``--``, after which all
    tokens are positional).
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
        if token in names:
            first = True
            while i < len(args) and not args[i].startswith("-"):
                if not first:
                    out.append(token)
                out.append(args[i])
                first = False
                i += 1
    return out


class MultiValueCommand(CfgOptionsCommand):
    """A command whose options listed in ``multi_value_options`` accept several values after one flag
    (``--cfg-options`` too)."""

    def __init__(self, *args, multi_value_options: tuple[str, ...] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.multi_value_options = multi_value_options

    def parse_args(self, ctx, args):
        return super().parse_args(ctx, expand_multi_value_options(list(args), self.multi_value_options))
