"""``minim run CODEBASE TOOL [ARGS...]``: run a codebase tool."""

from __future__ import annotations

import click

from minim.cli.options import CodebaseType

HELP_FLAGS = ("-h", "--help")


@click.command("run", add_help_option=False,
               context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.argument("codebase_name", metavar="CODEBASE", required=False)
@click.argument("tool", required=False)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.option("--list", "list_tools", is_flag=True, help="List the codebase's tools.")
@click.pass_context
def command(ctx, codebase_name, tool, args, list_tools):
    """Run TOOL of CODEBASE with ARGS (`minim run cls --list` lists the tools).

    `minim run cls TOOL --help` shows the help of TOOL.

    \b
    Example:
      minim run cls print_config mobilenet-v2 --cfg-options model.head.num_classes=10
    """
    if codebase_name is None or codebase_name in HELP_FLAGS or tool in HELP_FLAGS:
        click.echo(ctx.get_help())
        return
    codebase = CodebaseType().convert(codebase_name, None, ctx)
    if list_tools or tool is None:
        for name in sorted(codebase.tools):
            click.echo(_tool_line(name, codebase.load_tool(name)))
        return
    tool_command = codebase.load_tool(tool)
    prog_name = f"minim run {codebase.name} {tool}"
    try:
        tool_command.main(args=list(args), prog_name=prog_name, standalone_mode=False)
    except click.UsageError as exc:
        if exc.ctx is None or exc.ctx.command is command:  # raised while the tool's context was not up yet
            exc.ctx = click.Context(tool_command, info_name=prog_name)
        raise


def _tool_line(name: str, tool: click.Command) -> str:
    """``NAME  first sentence of the tool's help``, wrapped to the terminal instead of cut short."""
    import shutil
    import textwrap

    paragraph = " ".join((tool.help or "").split("\n\n")[0].split())
    sentence = paragraph.split(". ")[0].rstrip(".") + "."
    width = max(60, shutil.get_terminal_size((100, 20)).columns)
    return textwrap.fill(sentence, width=width, initial_indent=f"{name:<20} ", subsequent_indent=" " * 21)
