"""``minim run CODEBASE TOOL [ARGS...]``: run a codebase tool."""

from __future__ import annotations

import click

from minim.cli.options import codebase_argument


@click.command("run", context_settings={"ignore_unknown_options": True, "allow_extra_args": True,
                                        "help_option_names": ["-h", "--help"]})
@codebase_argument
@click.argument("tool", required=False)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.option("--list", "list_tools", is_flag=True, help="List the codebase's tools.")
def command(codebase, tool, args, list_tools):
    """Run TOOL of CODEBASE with ARGS (`minim run cls --list` lists the tools).

    \b
    Example:
      minim run cls print_config mobilenet-v2 --cfg-options model.head.num_classes=10
    """
    if list_tools or tool is None:
        for name in sorted(codebase.tools):
            tool_command = codebase.load_tool(name)
            summary = tool_command.get_short_help_str(limit=70) if tool_command else ""
            click.echo(f"{name:<20} {summary}")
        return
    tool_command = codebase.load_tool(tool)
    tool_command.main(args=list(args), prog_name=f"minim run {codebase.name} {tool}", standalone_mode=False)
