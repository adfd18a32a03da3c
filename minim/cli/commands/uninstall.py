"""``minim uninstall``: plan (with who else needs each package), confirm, pip uninstall, repair shared files."""

from __future__ import annotations

import json

import click

EPILOG = """\b
Two distributions can ship the same files (opencv-python and opencv-python-headless
both ship cv2/; mmcv and mmcv-full both ship mmcv/): pip deletes them with the one
uninstalled, which breaks the other. minim then reinstalls the other one's files
(pip install --force-reinstall --no-deps NAME==VERSION, downloaded before anything is
uninstalled): with -y it does, otherwise it asks; --no-repair leaves it broken and
prints the command.

\b
Examples:
  minim uninstall mmcv-lite                    # asks first; names who still needs it
  minim uninstall opencv-python -y             # and restores opencv-python-headless's cv2
  minim uninstall -r requirements.txt -y --json
  minim uninstall mmcls --strict --python .venv
"""


@click.command("uninstall", epilog=EPILOG)
@click.argument("names", nargs=-1, metavar="NAME...")
@click.option("-r", "--requirement", "requirement_files", multiple=True, metavar="FILE",
              help="Uninstall the packages a requirements file names (repeatable).")
@click.option("--strict", is_flag=True, help="A name that is not installed is an error (default: warn and skip it, "
              "as pip does).")
@click.option("-y", "--yes", is_flag=True, help="Do not ask before uninstalling (and repairing).")
@click.option("--repair/--no-repair", default=None,
              help="Reinstall the files a remaining distribution shared with a removed one "
                   "(default: ask; yes with -y).")
@click.option("-i", "--index-url", metavar="URL", help="Index for the packages a repair reinstalls.")
@click.option("--extra-index-url", "extra_index_urls", multiple=True, metavar="URL", help="Another index (repeatable).")
@click.option("-f", "--find-links", "find_links", multiple=True, metavar="PATH|URL", help="Wheels folder or page.")
@click.option("--json", "as_json", is_flag=True, help="Print the plan and outcome as JSON (needs -y).")
@click.option("--python", "python", metavar="PATH", help="Target interpreter or venv folder (default: this one).")
@click.option("--allow-pip", is_flag=True, help="Allow uninstalling pip itself (minim cannot install without it).")
@click.option("-v", "--verbose", count=True, help="More pip output (repeatable).")
@click.option("-q", "--quiet", count=True, help="Less pip output (repeatable).")
def command(names, requirement_files, strict, yes, repair, index_url, extra_index_urls, find_links, as_json, python,
            allow_pip, verbose, quiet):
    """Uninstall distributions; warns when other installed packages require them, and restores files they
    shared with a distribution that stays."""
    from minim.cli.options import json_errors

    with json_errors(as_json):
        _uninstall(names, requirement_files, strict, yes, repair, index_url, extra_index_urls, find_links, as_json,
                   python, allow_pip, verbose - quiet)


def _uninstall(names, requirement_files, strict, yes, repair, index_url, extra_index_urls, find_links, as_json,
               python, allow_pip, verbosity):
    from minim.errors import PackageError, UsageError
    from minim.packages.render import console, uninstall_table
    from minim.packages.specs import read_requirements_file
    from minim.packages.uninstall import execute_uninstall, plan_uninstall, uninstall_and_repair

    if as_json and not yes:
        raise UsageError("--json needs -y (it cannot ask for confirmation)")
    names = list(names) + [r.requirement.name for path in requirement_files for r in read_requirements_file(path)
                           if r.requirement is not None]
    plan = plan_uninstall(names, python, allow_pip=allow_pip, strict=strict)
    plan.pip_options = ["-" + ("v" if verbosity > 0 else "q") * abs(verbosity)] if verbosity else []
    out = console(stderr=as_json)
    for warning in plan.missing:
        click.echo(f"minim: warning: {warning}", err=True)
    if not plan.items:
        out.print("Nothing to uninstall.")
        if as_json:
            click.echo(json.dumps({"ok": True, "plan": plan.to_dict(), "uninstalled": [], "repaired": []}, indent=2))
        return
    out.print(uninstall_table(plan))
    for warning in plan.warnings[len(plan.missing):]:
        out.print(f"[yellow]warning: {warning}[/]")
    if not yes:
        click.confirm("Proceed?", default=False, abort=True)
        if plan.damaged and repair is None:
            damaged = ", ".join(f"{n} {v}" for n, v in plan.damaged.items())
            repair = click.confirm(f"Then reinstall {damaged} to restore the files it shares?", default=True)

    def stream(line: str) -> None:
        click.echo(f"  {line}", err=as_json)

    repaired = []
    if plan.damaged and repair is not False:
        repaired = uninstall_and_repair(plan, plan.repair_options(index_url, extra_index_urls, find_links), stream)
    else:
        left = execute_uninstall(plan, on_line=stream)
        if left:
            raise PackageError(f"still installed after pip uninstall: {', '.join(left)}")
    out.print(f"Uninstalled {', '.join(i.name for i in plan.items)}.")
    if repaired:
        out.print(f"Reinstalled {', '.join(repaired)}: the files it shared with what was removed are back.")
    elif plan.repair_command():
        out.print(f"[yellow]{', '.join(plan.damaged)} lost shared files; repair: {plan.repair_command()}[/]")
    if as_json:
        click.echo(json.dumps({"ok": True, "plan": plan.to_dict(), "uninstalled": [i.name for i in plan.items],
                               "repaired": repaired}, indent=2))
