"""OpenMMLab requirements read without pip or a venv: the ``mim`` extra, ``mminstall.txt``, mmcv's series,
packages.json's ``openmmlab`` section, and ``minim list``'s package rows."""

from __future__ import annotations

import json

from pkg_support import build_source_sdist

MMCLS_REQUIRES = ["matplotlib (>=3.1.0)", "numpy", "albumentations (>=0.3.2) ; extra == 'all'",
                  "mmcv-full (<1.9.0,>=1.4.2) ; extra == 'mim'", "mmdet ; extra == 'tests'"]
MARKERS = {"python_version": "3.11", "sys_platform": "linux", "platform_system": "Linux"}


def environment(*dists):
    from minim.env.gpu import GpuInfo
    from minim.env.model import Environment

    return Environment(python="/v/bin/python", python_version="3.11.7", implementation="CPython",
                       platform="linux-x86_64", system="Linux", machine="x86_64", prefix="/v", in_venv=True,
                       pip_version="26", markers=MARKERS, dists={d.key: d for d in dists}, gpu=GpuInfo(False))


def test_the_mim_extra_is_read_from_the_metadata():
    from minim.packages.openmmlab import mim_extra

    assert mim_extra(MMCLS_REQUIRES, MARKERS) == ["mmcv-full<1.9.0,>=1.4.2"]
    assert mim_extra(["numpy", "rich ; extra == 'all'"], MARKERS) is None
    assert mim_extra(['mmcv<2.4.0,>=2.0.0; extra == "mim"', 'mmengine<1.0.0,>=0.8.3; extra == "mim"'],
                     MARKERS) == ["mmcv<2.4.0,>=2.0.0", "mmengine<1.0.0,>=0.8.3"]


def test_mminstall_txt_is_read_from_the_sdist(tmp_path):
    from minim.packages.openmmlab import read_mminstall

    sdist = build_source_sdist(tmp_path, "mmfoo", "1.0", {
        "requirements/mminstall.txt": "# mim reads this\nmmcv>=2.0.0,<2.4.0\nmmengine>=0.8.3  # comment\n-r x\n"})
    assert read_mminstall(sdist) == ["mmcv<2.4.0,>=2.0.0", "mmengine>=0.8.3"]
    assert read_mminstall(build_source_sdist(tmp_path / "b", "mmbar", "1.0", {"setup.py": ""})) == []


def test_mmcv_series_of_a_requirement():
    from packaging.specifiers import SpecifierSet

    from minim.packages.mmcv import _series

    assert _series({"mmcv-full"}, SpecifierSet(">=1.4.2,<1.9.0")) == "1"
    assert _series({"mmcv"}, SpecifierSet(">=2.0.0,<2.4.0")) == "2"
    assert _series({"mmcv"}, SpecifierSet(">=1.3.8,<1.8")) == "1"
    assert _series({"mmcv-lite"}, SpecifierSet()) == "2"


def test_the_rule_for_ops_is_data():
    from minim.packages.compat import load_compat

    compat = load_compat()
    assert not compat.needs_ops("mmcls") and not compat.needs_ops("mmpretrain")
    assert compat.needs_ops("mmdet") and compat.needs_ops("some-unknown-mm-package")
    assert compat.mmcv_recipe("1")["lite"] == {"dist": "mmcv", "sdist": "mmcv", "env": {"MMCV_WITH_OPS": "0"}}


def test_check_packages_checks_the_openmmlab_section(tmp_path):
    import importlib.util
    from pathlib import Path

    from minim.packages.compat import default_path

    spec = importlib.util.spec_from_file_location("check_packages", Path(__file__).parent.parent / "scripts" /
                                                  "check_packages.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    data = json.loads(default_path().read_text())
    assert module.Checker(json.loads(json.dumps(data))).run() == []
    data["openmmlab"]["mmcv"]["series"]["1"]["lite"]["dist"] = "mmcv-fool"
    data["openmmlab"]["packages"]["mmcls"]["needs_ops"] = "no"
    problems = module.Checker(data).run()
    assert any("lite.dist 'mmcv-fool'" in p for p in problems) and any("needs_ops must be" in p for p in problems)


def test_list_rows_show_openmmlab_torch_and_backends_with_build(tmp_path):
    from minim.env.model import Dist
    from minim.packages.compat import load_compat
    from minim.packages.listing import package_rows

    env = environment(Dist("mmcls", "0.25.0", requires=MMCLS_REQUIRES, installer="pip"),
                      Dist("mmcv-lite", "2.1.0", location=str(tmp_path), installer="pip"),
                      Dist("torch", "2.14.1+cpu", installer="pip"), Dist("timm", "1.0.9", installer="uv"),
                      Dist("mypkg", "0.1", editable=True, direct_url="file:///src/mypkg"),
                      Dist("requests", "2.32"))
    rows = {row["name"]: row for row in package_rows(env, load_compat())}
    assert list(rows) == ["mmcls", "mmcv-lite", "torch", "timm"]
    assert rows["mmcv-lite"]["build"] == "lite (no ops)" and rows["mmcls"]["kind"] == "openmmlab"
    assert rows["torch"]["build"] == "CPU" and rows["timm"]["source"] == "index (uv)"
    every = {row["name"]: row for row in package_rows(env, load_compat(), everything=True)}
    assert every["mypkg"]["source"] == "editable file:///src/mypkg" and "requests" in every


def test_doctor_fix_applies_errors_only_and_unmet_requirements_in_one_install(monkeypatch):
    from minim.errors import PackageError
    from minim.packages import doctor

    ctx = doctor.FixContext("/v/bin/python")

    def finding(code, severity, spec):
        fix, command = ctx.install_fix([spec])
        return doctor.Finding(code, severity, f"{code} {spec}", command, fix)

    calls = []

    def fake_apply(fix, first, ctx, on_line):
        calls.append(fix.install.specs)
        if "bad" in fix.install.specs:
            raise PackageError("index unreachable")

    monkeypatch.setattr(doctor, "_apply", fake_apply)
    findings = [finding("unsatisfied", "error", "helper>=1.0"), finding("torch-build", "warning", "torch==2.14.1"),
                finding("unsatisfied", "error", "numpy<3"), finding("shadowed-import", "error", "bad")]
    done, failed = doctor.apply_fixes(findings, ctx)
    assert calls == [["bad"], ["helper>=1.0", "numpy<3"]]  # the warning is not fixed; unmet ones together
    assert failed == ["shadowed-import: index unreachable"] and len(done) == 2
    calls.clear()
    doctor.apply_fixes(findings, ctx, warnings=True)
    assert ["torch==2.14.1"] in calls
