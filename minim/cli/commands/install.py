"""``minim install``: plan, confirm, pip install, verify."""

from __future__ import annotations

import json

import click

from minim.cli.options import MultiValueCommand, in_help_section


class PipPassthrough(MultiValueCommand):
    """Everything after ``--`` goes to pip verbatim (``ctx.meta['pip_args']``); other unknown options are errors."""

    def parse_args(self, ctx, args):
        if "--" in args:
            cut = args.index("--")
            ctx.meta["pip_args"] = args[cut + 1:]
            args = args[:cut]
        return super().parse_args(ctx, args)


EPILOG = """\b
Torch family: torchvision/torchaudio without a version get the release that pairs
with the installed (or requested) torch; changing torch also moves an installed
torchvision/torchaudio to its pair. --compute picks the build (cpu, cu121, cu126,
rocm6.1, ...; auto keeps the installed torch's build, else the newest CUDA build
the driver runs, else cpu) from https://download.pytorch.org/whl/<variant>.

\b
Compiled backends (torch, torchvision, torchaudio, mmcv, mmcv-full) come from
binary wheels only (pip --only-binary) unless --allow-build is given.

\b
OpenMMLab packages (mmcls, mmpretrain, mmdet, ...) name mmcv and mmengine in their
'mim' extra or in requirements/mminstall.txt of their sdist: both are read and the
plan shows them. mmcv comes as a published wheel for the installed torch where one
exists, else as the lite build (no compiled ops; mmcv 1.x built here from its sdist,
cached under MINIM_HOME/wheels) when the package works without ops, else built from
source with ops. --mmcv-ops / --no-mmcv-ops choose.

\b
pip's options: --no-index, -c/--constraint, --trusted-host, --no-build-isolation,
--only-binary, --prefer-binary, --user, --target, -q and -v go to pip as given.
Everything after '--' also goes to pip unchanged; minim reads it too: requirements
there are planned like SPECs, -r/-e files are read, --no-index stops every index
probe, and --index-url/--extra-index-url/--find-links there are probed and named.

\b
mmcv named on the command line (mmcv==1.7.2, mmcv-full) is resolved the same way:
mmcv-full (and mmcv 2.x) means with ops, mmcv 1.x and mmcv-lite without.

\b
Mirrors: --mirror / MINIM_MIRROR map URL prefixes, e.g.
  --mirror https://download.pytorch.org/whl=https://mirror.example/pytorch-whl
  --mirror https://pypi.org/simple=https://mirror.example/pypi/simple
They apply to --index-url, --extra-index-url, --find-links, PyTorch's variant
indexes and mmcv's wheel pages. Every index is probed once (3 s) before pip runs
(an unreachable one is named with where its URL came from: --index-url,
PIP_INDEX_URL, pip's configuration, torch's build); pip gets --retries 1 --timeout 15.

\b
Examples:
  minim install torchvision                  # the release matching installed torch
  minim install torch==2.5.1 --compute cu121 # and the matching torchvision, if installed
  minim install mmcls --dry-run --json
  minim install ./dist/pkg.whl -- --no-cache-dir   # after '--': options for pip
  minim install --no-index -f ./wheels -c constraints.txt app
"""


@click.command("install", cls=PipPassthrough, epilog=EPILOG)
@click.argument("specs", nargs=-1, metavar="SPEC...")
@click.option("-y", "--yes", is_flag=True, help="Do not ask before installing.")
@click.option("--dry-run", is_flag=True, help="Show the plan and stop.")
@click.option("--json", "as_json", is_flag=True, help="Print the plan (and outcome) as JSON.")
@click.option("-i", "--index-url", metavar="URL", help="Base URL of the package index (pip --index-url).")
@click.option("--extra-index-url", "extra_index_urls", multiple=True, metavar="URL", help="Another index (repeatable).")
@click.option("-f", "--find-links", "find_links", multiple=True, metavar="PATH|URL",
              help="A folder or page of wheels (repeatable).")
@click.option("--compute", default="auto", show_default=True, metavar="VARIANT",
              help="torch build: auto, cpu, cu118, cu121, cu124, cu126, cu128, rocm6.1, xpu, ...")
@click.option("--python", "python", metavar="PATH", help="Target interpreter or venv folder (default: this one).")
@click.option("-e", "--editable", "editables", multiple=True, metavar="PATH", help="Install a project in editable mode.")
@click.option("-r", "--requirement", "requirement_files", multiple=True, metavar="FILE",
              help="Install from a requirements file (repeatable).")
@click.option("--allow-build", is_flag=True, help="Let pip build compiled backends from source distributions.")
@click.option("--mirror", metavar="SPEC", help="URL mirrors 'ORIGIN=MIRROR,...' (default $MINIM_MIRROR).")
@click.option("-U", "--upgrade", is_flag=True, help="Upgrade the named packages to the newest allowed versions.")
@click.option("--force-reinstall", is_flag=True, help="Reinstall even when already up to date.")
@click.option("--no-deps", is_flag=True, help="Do not install dependencies.")
@click.option("--pre", is_flag=True, help="Allow pre-releases.")
@click.option("--mmcv-ops/--no-mmcv-ops", "mmcv_ops", default=None,
              help="For OpenMMLab packages: mmcv with its compiled ops (a published wheel, else a build from source) "
                   "or the lite build without them (default: lite where every package asking works without ops).")
@click.option("--allow-breaking", is_flag=True,
              help="Go ahead with -y although the plan breaks requirements of installed packages.")
@click.option("--allow-conflicts", is_flag=True,
              help="Go ahead with -y although a new package overwrites files of an installed one (mmcv/mmcv-full).")
@in_help_section("pip's options (passed on)", [
    click.option("--no-index", is_flag=True, help="Use no index, only --find-links (and probe none)."),
    click.option("-c", "--constraint", "constraints", multiple=True, metavar="FILE",
                 help="Constrain versions with a constraints file (repeatable)."),
    click.option("--trusted-host", "trusted_hosts", multiple=True, metavar="HOST",
                 help="Trust HOST even without valid HTTPS (repeatable)."),
    click.option("--no-build-isolation", is_flag=True, help="Build sdists against the installed build tools."),
    click.option("--only-binary", "only_binary", multiple=True, metavar="NAMES",
                 help="Wheels only for these (':all:' for every package; compiled backends always)."),
    click.option("--prefer-binary", is_flag=True, help="Prefer an older wheel over a newer sdist."),
    click.option("--user", is_flag=True, help="Install into the user site-packages."),
    click.option("-t", "--target", metavar="DIR", help="Install into DIR instead of the environment (not verified)."),
    click.option("-v", "--verbose", count=True, help="More pip output (repeatable)."),
    click.option("-q", "--quiet", count=True, help="Less pip output (repeatable)."),
])
@click.pass_context
def command(ctx, yes, dry_run, as_json, python, allow_breaking, allow_conflicts, **options):
    """Install packages with pip, keeping torch, torchvision and torchaudio a working set.

    Shows the plan (each package, version, index and reason) and asks before acting.
    """
    from minim.cli.options import json_errors

    with json_errors(as_json):
        _install(ctx, yes, dry_run, as_json, python, allow_breaking, allow_conflicts, options)


def _install(ctx, yes, dry_run, as_json, python, allow_breaking, allow_conflicts, given: dict):
    from minim.errors import UsageError
    from minim.packages.install import execute_install
    from minim.packages.plan import InstallOptions, plan_install
    from minim.packages.render import console, plan_table, verification_table

    if as_json and not (dry_run or yes):
        raise UsageError("--json needs --dry-run or -y (it cannot ask for confirmation)")
    verbosity = given.pop("verbose") - given.pop("quiet")
    options = InstallOptions(**{name: list(value) if isinstance(value, tuple) else value
                                for name, value in given.items()},
                             pip_args=list(ctx.meta.get("pip_args", [])), verbosity=verbosity)
    plan = plan_install(options, python)
    out = console(stderr=as_json)
    if as_json and dry_run:
        click.echo(json.dumps(plan.to_dict(), indent=2))
        return
    out.print(plan_table(plan))
    for note in plan.notes:
        out.print(f"[dim]note: {note}[/]")
    for warning in plan.warnings + plan.conflicts:
        out.print(f"[yellow]warning: {warning}[/]")
    if not plan.changes() and plan.resolved:
        out.print("Nothing to do: every requested package is already installed.")
        if as_json:
            click.echo(json.dumps({"ok": True, "plan": plan.to_dict(), "verified": []}, indent=2))
        return
    if dry_run:
        out.print("[dim]dry run: nothing installed[/]")
        return
    if plan.conflicts and yes and not allow_conflicts:
        from minim.errors import PackageError

        raise PackageError(f"refusing to install: {plan.conflicts[0]}",
                           hint="or pass --allow-conflicts to overwrite its files anyway")
    if plan.warnings and yes and not allow_breaking:
        from minim.errors import PackageError

        raise PackageError(f"refusing to install: {plan.warnings[0]}"
                           + (f" (and {len(plan.warnings) - 1} more)" if len(plan.warnings) > 1 else ""),
                           hint="or pass --allow-breaking to install anyway")
    if not yes:
        prompt = "Proceed, overwriting those files?" if plan.conflicts else "Proceed?"
        click.confirm(prompt, default=False, abort=True)

    def stream(line: str) -> None:
        click.echo(f"  {line}", err=as_json)

    outcome = execute_install(plan, on_line=stream)
    out.print(verification_table(outcome.verifications))
    if as_json:
        click.echo(json.dumps(outcome.to_dict(), indent=2))
    if not outcome.ok:
        from minim.errors import PackageError

        bad = [f"{v.name}: {v.problem()}" for v in outcome.verifications if not v.ok]
        if bad:
            error = PackageError("installed, but verification failed: " + "; ".join(bad),
                                 hint="run minim doctor for a full check")
        else:
            error = PackageError("installed, but it broke installed packages: " + "; ".join(outcome.broken),
                                 hint="run minim doctor, which names the fix for each")
        error.json_reported = True  # the outcome printed above already says ok: false
        raise error
