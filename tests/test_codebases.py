"""Codebases come from the ``minim.codebases`` entry-point group: a plug-in package can add one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

PLUGIN = textwrap.dedent('''
    from pathlib import Path
    from minim.codebases import Codebase

    CODEBASE = Codebase(name="demo", description="a plug-in codebase",
                        index_file=lambda: Path(__file__).parent / "demo_index.json")
''')


def test_plugin_codebase_is_discovered(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "demo_codebase.py").write_text(PLUGIN)
    config = site / "configs" / "tiny.py"
    config.parent.mkdir()
    config.write_text("model = dict(type='Tiny')\n")
    (site / "demo_index.json").write_text(json.dumps({"codebase": "demo", "models": [{
        "name": "tiny_demo", "aliases": ["tiny"], "collection": "Tiny", "config": "configs/tiny.py",
        "weights": None, "metadata": {"dataset": "none"}, "source": "test plug-in"}]}))
    dist_info = site / "demo_plugin-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: demo-plugin\nVersion: 1.0\n")
    (dist_info / "entry_points.txt").write_text("[minim.codebases]\ndemo = demo_codebase:CODEBASE\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]))

    def minim(*args):
        return subprocess.run([sys.executable, "-m", "minim", *args], capture_output=True, text=True, env=env)

    found = minim("search", "demo", "--json")
    assert found.returncode == 0, found.stderr
    assert [e["name"] for e in json.loads(found.stdout)] == ["tiny_demo"]
    printed = minim("run", "demo", "--list")
    assert printed.returncode == 0
    unknown = minim("search", "dem")
    assert unknown.returncode == 2 and "known codebases: cls, demo" in unknown.stderr
    no_engine = minim("train", "demo", str(config))
    assert no_engine.returncode != 0 and "codebase 'demo' has no engine: it cannot train" in no_engine.stderr
