"""The CLI shell: version, help, did-you-mean, error format, --debug, lazy imports."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from minim import __version__


def test_version(run_cli):
    result = run_cli("--version")
    assert result.exit_code == 0 and result.out.strip() == f"minim {__version__}"


def test_help_lists_commands_and_environment(run_cli):
    result = run_cli("--help")
    assert result.exit_code == 0
    for word in ("search", "download", "run", "MINIM_MIRROR", "MINIM_OFFLINE"):
        assert word in result.out


def test_mistyped_command_suggests(run_cli):
    result = run_cli("serch", "cls")
    assert result.exit_code == 2
    assert "minim: error: no such command 'serch'" in result.err
    assert "did you mean 'search'" in result.err


def test_errors_are_one_line_without_traceback(run_cli):
    result = run_cli("download", "cls", "--config", "no-such-model", "--no-weights")
    assert result.exit_code == 1
    assert result.err.count("\n") == 1 and result.err.startswith("minim: error: ")
    assert "Traceback" not in result.err


@pytest.mark.parametrize("args", [
    ["--debug", "download", "cls", "--config", "no-such-model", "--no-weights"],
    ["download", "cls", "--config", "no-such-model", "--no-weights", "--debug"],  # anywhere on the line
])
def test_debug_shows_traceback(args):
    env_code = textwrap.dedent(f"""
        from minim.cli.main import main
        main({args!r})
    """)
    proc = subprocess.run([sys.executable, "-c", env_code], capture_output=True, text=True)
    assert proc.returncode != 0
    assert "Traceback" in proc.stderr and "NotFoundError" in proc.stderr and "NoSuchOption" not in proc.stderr


def test_ctrl_c_is_interrupted_with_status_130(run_cli, monkeypatch):
    import minim.index.search

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(minim.index.search, "search", interrupted)
    result = run_cli("search", "cls")
    assert result.exit_code == 130 and result.err.strip().endswith("minim: error: interrupted")


def test_python_dash_m(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "minim", "--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and __version__ in proc.stdout


def test_run_lists_tools(run_cli):
    result = run_cli("run", "cls", "--list")
    assert result.exit_code == 0 and "print_config" in result.out


def test_run_unknown_tool(run_cli):
    result = run_cli("run", "cls", "print_confg", "x.py")
    assert result.exit_code == 1 and "did you mean 'print_config'" in result.err


LAZY_CHECK = textwrap.dedent("""
    import sys
    from minim.cli.main import main
    try:
        main({argv!r})
    except SystemExit as exc:
        code = exc.code
    heavy = sorted(m for m in ('torch', 'torchvision', 'numpy', 'PIL', 'matplotlib') if m in sys.modules)
    print('HEAVY=' + ','.join(heavy), file=sys.stderr)
    print('CODE=' + str(code), file=sys.stderr)
""")


@pytest.mark.parametrize("argv", [
    ["--help"],
    ["search", "cls", "--model", "mobilenet", "--condition", "top1>70"],
    ["search", "cls", "--json"],
    ["download", "cls", "--config", "mobilenet-v2", "--no-weights", "--dest", "{tmp}"],
    ["run", "cls", "print_config", "resnet18"],
])
def test_light_commands_do_not_import_torch(argv, tmp_path):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    proc = subprocess.run([sys.executable, "-c", LAZY_CHECK.format(argv=argv)], capture_output=True, text=True)
    assert "CODE=0" in proc.stderr, proc.stderr
    assert "HEAVY=\n" in proc.stderr, proc.stderr


def test_run_help_forms(run_cli):
    assert "Usage: minim run [OPTIONS] CODEBASE" in run_cli("run", "--help").out
    assert "Usage: minim run [OPTIONS] CODEBASE" in run_cli("run", "cls", "--help").out
    tool_help = run_cli("run", "cls", "print_config", "--help")
    assert tool_help.exit_code == 0 and "Usage: minim run cls print_config" in tool_help.out
    unknown = run_cli("run", "clss", "print_config")
    assert unknown.exit_code == 2 and "known codebases: cls" in unknown.err


def test_python_warnings_print_as_one_minim_line():
    code = ("import warnings\nfrom minim.cli import main as m\n"
            "import click\n@m.cli.command('warn')\ndef warn():\n    warnings.warn('head skipped')\n"
            "m.COMMANDS['warn'] = ('search', '')\n"
            "m.LazyGroup.get_command = lambda self, ctx, name: warn if name == 'warn' else None\n"
            "m.main(['warn'])\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "minim: warning: head skipped\n"


def test_a_tool_group_without_its_sub_command_shows_its_help(run_cli):
    result = run_cli("run", "cls", "analyze_logs")
    assert result.exit_code == 2 and "minim: error" not in result.err
    assert "plot_curve" in result.err and "cal_train_time" in result.err


def test_a_tool_option_without_its_value_points_at_the_tools_help(run_cli):
    result = run_cli("run", "cls", "get_flops", "mobilenet-v2", "--shape")
    assert result.exit_code == 2
    assert result.err.splitlines() == [
        "minim: error: Option '--shape' requires an argument. (see 'minim run cls get_flops --help')"]
    typo = run_cli("search", "cls", "--limt", "3")
    assert typo.err.splitlines() == [
        "minim: error: No such option '--limt'. Did you mean '--limit'? (see 'minim search --help')"]


def test_the_help_lists_every_environment_variable_the_readme_documents(run_cli):
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("## Environment variables", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"`(MINIM_[A-Z_]+)", section))
    assert len(documented) >= 6
    shown = run_cli("--help").out
    assert {name for name in documented if name not in shown} == set()
