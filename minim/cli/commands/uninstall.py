"""``minim uninstall``: plan (with who else needs each package), confirm, pip uninstall."""

from __future__ import annotations

import click


@click.command("uninstall")
@click.argument("names", nargs=-1, metavar="NAME...")
@click.option("-r", "--requirement", "requirement_files", multiple=True, metavar="FILE",
              help="Uninstall the packages a requirements file names (repeatable).")
@click.option("--strict", is_flag=True, help="A name that is not installed is an error (default: warn and skip it, "
              "as pip does).")
@click.option("-y", "--yes", is_flag=True, help="Do not ask before uninstalling.")
@click.option("--python", "python", metavar="PATH", help="Target interpreter or venv folder (default: this one).")
@click.option("--allow-pip", is_flag=True, help="Allow uninstalling pip itself (minim cannot install without it).")
def command(names, requirement_files, strict, yes, python, allow_pip):
    """Uninstall distributions; warns when other installed packages require them or share their files."""
    from minim.errors import PackageError
    from minim.packages.render import console, uninstall_table
    from minim.packages.uninstall import execute_uninstall, plan_uninstall

    from minim.packages.specs import read_requirements_file

    names = list(names) + [r.requirement.name for path in requirement_files for r in read_requirements_file(path)
                           if r.requirement is not None]
    plan = plan_uninstall(names, python, allow_pip=allow_pip, strict=strict)
    out = console()
    for warning in plan.missing:
        click.echo(f"minim: warning: {warning}", err=True)
    if not plan.items:
        out.print("Nothing to uninstall.")
        return
    out.print(uninstall_table(plan))
    for warning in plan.warnings[len(plan.missing):]:
        out.print(f"[yellow]warning: {warning}[/]")
    if not yes:
        click.confirm("Proceed?", default=False, abort=True)
    left = execute_uninstall(plan, on_line=lambda line: click.echo(f"  {line}"))
    if left:
        raise PackageError(f"still installed after pip uninstall: {', '.join(left)}")
    out.print(f"Uninstalled {', '.join(i.name for i in plan.items)}.")
    if plan.repair_command():
        out.print(f"[yellow]{', '.join(plan.damaged)} lost shared files; repair: {plan.repair_command()}[/]")
