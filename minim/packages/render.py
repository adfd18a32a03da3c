"""Rich tables for install plans, verification results, uninstall plans, doctor findings and ``minim list``."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console

ACTION_STYLE = {"install": "green", "upgrade": "cyan", "downgrade": "yellow", "reinstall": "magenta",
                "keep": "dim", "change": "cyan", "uninstall": "red"}
SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def console(stderr: bool = False) -> "Console":
    """A console that does not wrap tables when output is not a terminal."""
    from rich.console import Console

    out = Console(stderr=stderr)
    if not out.is_terminal:
        out = Console(stderr=stderr, width=max(160, out.width), highlight=False)
    return out


def _table(title: str | None, columns: list[str]):
    from rich.table import Table

    table = Table(title=title, header_style="bold", title_justify="left")
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


def plan_table(plan) -> object:
    title = f"Install plan for {plan.python}" + ("" if plan.resolved else " (versions not resolved)")
    table = _table(title, ["Package", "Action", "Installed", "Version", "From", "Why"])
    for item in plan.items:
        style = ACTION_STYLE.get(item.action, "")
        source = item.source + (" (wheel only)" if item.binary_only else "")
        table.add_row(item.name, f"[{style}]{item.action}[/]" if style else item.action, item.installed or "-",
                      item.version or "-", source, item.reason)
    return table


def verification_table(verifications) -> object:
    table = _table("Verified in a fresh interpreter", ["Package", "Expected", "Installed", "Imports", "Result"])
    for v in verifications:
        imports = ", ".join(v.imports) or "-"
        result = "[green]ok[/]" if v.ok else f"[red]{v.problem()}[/]"
        table.add_row(v.name, v.expected or "-", v.installed or "-", imports, result)
    return table


def uninstall_table(plan) -> object:
    table = _table(f"Uninstall plan for {plan.python}", ["Package", "Version", "Location", "Required by"])
    for item in plan.items:
        table.add_row(item.name, item.version, item.location or "-", ", ".join(item.required_by) or "-")
    return table


def findings_table(findings, python: str) -> object:
    table = _table(f"minim doctor: {python}", ["Severity", "Problem", "Fix"])
    for finding in findings:
        style = SEVERITY_STYLE.get(finding.severity, "")
        table.add_row(f"[{style}]{finding.severity}[/]", finding.message, finding.fix_command or "-")
    return table


def environment_tables(info: dict) -> list:
    env = info["environment"]
    table = _table("Environment", ["Item", "Value"])
    table.add_row("Python", f"{env['python_version']} ({env['implementation']}, {env['platform']})"
                  f"{' venv' if env['in_venv'] else ''} at {env['python']}")
    table.add_row("pip", env["pip"] or "[red]not installed[/]")
    for name in ("torch", "torchvision", "torchaudio"):
        entry = env["torch"].get(name)
        if entry is None:
            table.add_row(name, "[dim]not installed[/]")
            continue
        build = entry["build"]
        label = {"cuda": f"CUDA {build['cuda']}", "rocm": f"ROCm {build['rocm']}", "cpu": "CPU",
                 "xpu": "XPU"}.get(build["kind"], "unknown build")
        pairing = entry.get("pairs_with_torch")
        note = "" if pairing in (None, True) else " [yellow](not a released pair with torch)[/]"
        table.add_row(name, f"{entry['version']} ({label}, from {build['source']}){note}")
    gpu = env["gpu"]
    if gpu["available"]:
        names = ", ".join(gpu["names"]) or gpu["vendor"]
        driver = f", driver {gpu['driver']}" if gpu["driver"] else ""
        cuda = f", CUDA <= {gpu['driver_cuda']}" if gpu["driver_cuda"] else ""
        table.add_row("GPU", f"{names}{driver}{cuda}")
    else:
        table.add_row("GPU", f"none usable ({gpu['source']})")
    tables = [table]
    if info.get("packages"):
        packages = _table("Packages", ["Package", "Version", "Build", "Source"])
        for row in info["packages"]:
            packages.add_row(row["name"], row["version"], row["build"] or "-", row["source"])
        tables.append(packages)
    codebases = _table("Codebases", ["Codebase", "Models", "Description"])
    for codebase in info["codebases"]:
        models = "-" if codebase["models"] is None else str(codebase["models"])
        description = codebase["description"] or ""
        if codebase.get("error"):
            description = f"[yellow]{codebase['error']}[/]"
        codebases.add_row(codebase["name"], models, description)
    tables.append(codebases)
    if info.get("backends"):
        backends = _table("Compiled backends", ["Package", "Version"])
        for name, version in info["backends"].items():
            backends.add_row(name, version)
        tables.append(backends)
    return tables
