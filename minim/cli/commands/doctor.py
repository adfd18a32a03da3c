"""``minim doctor``: find (and with --fix repair) what breaks the environment."""

from __future__ import annotations

import json
import sys

import click


@click.command("doctor")
@click.option("--fix", is_flag=True, help="Repair what can be repaired (asks first unless -y).")
@click.option("--fix-warnings", is_flag=True,
              help="With --fix, also apply the fixes of warnings (errors only otherwise).")
@click.option("-y", "--yes", is_flag=True, help="Do not ask before fixing.")
@click.option("--deep", is_flag=True,
              help="Also import torch in a subprocess and run torchvision's operators (a few seconds).")
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
@click.option("--python", "python", metavar="PATH", help="Interpreter or venv folder to check (default: this one).")
@click.option("-i", "--index-url", metavar="URL", help="Index for the packages a fix reinstalls.")
@click.option("--extra-index-url", "extra_index_urls", multiple=True, metavar="URL", help="Another index (repeatable).")
@click.option("-f", "--find-links", "find_links", multiple=True, metavar="PATH|URL", help="Wheels folder or page.")
@click.option("--mirror", metavar="SPEC", help="URL mirrors 'ORIGIN=MIRROR,...' (default $MINIM_MIRROR).")
def command(fix, fix_warnings, yes, deep, as_json, python, index_url, extra_index_urls, find_links, mirror):
    """Check the environment: packages overwriting each other's files, torch/torchvision/torchaudio
    that are not a released pair or do not fit the GPU, torchvision operators that fail to load,
    and unsatisfied requirements (as pip check). Exits 1 when something is broken.

    \b
    With --fix, shadowed imports are repaired by downloading the one to keep, uninstalling every
    distribution that ships the package and installing the downloaded files. The one kept is the
    one other packages require, else the preferred one (opencv-*-headless on machines without a
    display), else the one whose files are on disk.

    \b
    The operator checks read the compiled libraries of torchvision and mmcv-full and torch's own
    libraries on Linux: the torch symbols they need must be defined (what fails as "undefined
    symbol" at import). --deep also imports torchvision in a subprocess and runs its nms.

    \b
    Examples:
      minim doctor                              # findings, each with the command that fixes it
      minim doctor --fix                        # fix the errors (asks first)
      minim doctor --fix --fix-warnings -y --json --python .venv
    """
    from minim.cli.options import json_errors

    with json_errors(as_json):
        _doctor(fix, fix_warnings, yes, deep, as_json, python, index_url, extra_index_urls, find_links, mirror)


def _doctor(fix, fix_warnings, yes, deep, as_json, python, index_url, extra_index_urls, find_links, mirror):
    from minim.env.probe import resolve_python
    from minim.errors import UsageError
    from minim.packages.doctor import FixContext, apply_fixes, diagnose, exit_status
    from minim.packages.render import console, findings_table

    if as_json and fix and not yes:
        raise UsageError("--json --fix needs -y (it cannot ask for confirmation)")
    target = resolve_python(python)
    ctx = FixContext(target, index_url=index_url, extra_index_urls=list(extra_index_urls),
                     find_links=list(find_links), mirror=mirror, explicit_python=python is not None,
                     deep=deep)
    env, findings = diagnose(python, ctx)
    out = console(stderr=as_json)
    if not as_json:
        if findings:
            out.print(findings_table(findings, env.python))
        else:
            out.print(f"No problems found in {env.python} ({len(env.dists)} distributions).")
    fixed, failed = [], []
    fixable = [f for f in findings if f.fix and (f.severity == "error" or fix_warnings)]
    if fix and fixable:
        if not yes:
            click.confirm(f"Apply {len(fixable)} fix(es)?", default=False, abort=True)
        fixed, failed = apply_fixes(findings, ctx, on_line=lambda line: click.echo(f"  {line}", err=as_json),
                                    warnings=fix_warnings)
        env, findings = diagnose(python, ctx)
        if not as_json:
            if findings:
                out.print(findings_table(findings, env.python))
            else:
                out.print("All fixed: no problems left.")
    for line in failed:
        click.echo(f"minim: error: fix failed: {line}", err=True)
    if fix and not as_json:
        skipped = sum(1 for f in findings if f.fix and f.severity != "error" and not fix_warnings)
        out.print(f"fixed {len(fixed)}, failed {len(failed)}, left {len(findings)} finding(s)"
                  + (f" ({skipped} warning(s) not fixed: add --fix-warnings)" if skipped else ""))
    if as_json:
        click.echo(json.dumps({"python": env.python, "findings": [f.to_dict() for f in findings],
                               "fixed": fixed, "failed": failed, "left": len(findings),
                               "broken": exit_status(findings) != 0}, indent=2))
    sys.exit(exit_status(findings))
