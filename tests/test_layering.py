"""Generic layers (config, index, net, launch, gridsearch, packages, env) never import the ``cls`` engine:
the codebase object hands them what they need."""

from __future__ import annotations

import subprocess
import sys

import pytest

GENERIC = ["minim.config", "minim.index", "minim.net.download", "minim.launch.commands", "minim.gridsearch.search",
           "minim.gridsearch.summary", "minim.runlogs", "minim.packages.plan", "minim.env.probe", "minim.codebases"]


@pytest.mark.parametrize("module", GENERIC)
def test_generic_module_imports_nothing_of_cls(module):
    code = (f"import sys, {module}\n"
            "bad = sorted(m for m in sys.modules if m.startswith('minim.cls'))\n"
            "print(','.join(bad))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def test_codebase_gives_gridsearch_its_metric_rules():
    from minim.codebases import Codebase, get_codebase

    cls = get_codebase("cls")
    assert cls.metrics_function("infer_rule")("accuracy_top-1") == "greater"
    assert "accuracy_top-1" in cls.metrics_function("metric_keys")("accuracy", None, 10)
    bare = Codebase(name="x", description="", index_file=lambda: None)
    assert bare.metrics_function("infer_rule") is None
    from minim.gridsearch.search import _infer_rule

    assert _infer_rule("val_loss", bare) == "less" and _infer_rule("mAP", bare) == "greater"
