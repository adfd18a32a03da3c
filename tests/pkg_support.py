"""Test support for minim install/uninstall/doctor: tiny wheels, a PEP 503 index on 127.0.0.1, throw-away venvs.

* :func:`build_wheel` writes a real wheel (METADATA, WHEEL, RECORD with sha256) with zipfile;
* :func:`repack_installed` turns an installed distribution of this interpreter (pip, setuptools)
  into a wheel, so test venvs get the newest pip/setuptools this machine has without a registry;
* :class:`SimpleIndex` serves folders of files as PEP 503 "simple" indexes over HTTP on 127.0.0.1
  (``/<index>/<project>/`` pages with ``#sha256=`` links) and logs every request;
* :func:`make_venv` creates an isolated venv and installs pip (and setuptools) from those wheels;
* :func:`pip_env` is the environment every pip/minim subprocess in the tests gets: no user or
  machine pip configuration (this machine's /etc/xdg/pip constraint file caps torch), no
  find-links, no cache shared with the machine.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import html
import io
import os
import re
import subprocess
import sys
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import metadata
from pathlib import Path
from urllib.parse import unquote

PIP_VARIABLES_TO_DROP = ("PIP_FIND_LINKS", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_CONSTRAINT",
                         "PIP_DEFAULT_TIMEOUT", "PIP_REQUIRE_VIRTUALENV", "PIP_NO_INDEX", "PIP_USER",
                         "PIP_TARGET", "PIP_PREFIX")


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _write_wheel(path: Path, dist_info: str, files: dict[str, bytes]) -> Path:
    rows = [(name, _record_hash(data), str(len(data))) for name, data in files.items()]
    rows.append((f"{dist_info}/RECORD", "", ""))
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        archive.writestr(f"{dist_info}/RECORD", buffer.getvalue())
    return path


def build_wheel(dest: Path, name: str, version: str, files: dict[str, str | bytes] | None = None,
                requires: list[str] = (), requires_python: str | None = None, tag: str = "py3-none-any",
                top_level: list[str] | None = None) -> Path:
    """Write ``<name>-<version>-<tag>.whl`` into ``dest`` holding ``files`` (path -> content)."""
    stem = re.sub(r"[-_.]+", "_", name)
    dist_info = f"{stem}-{version}.dist-info"
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}", f"Summary: test package {name}"]
    if requires_python:
        lines.append(f"Requires-Python: {requires_python}")
    lines += [f"Requires-Dist: {r}" for r in requires]
    contents = {path: (data.encode() if isinstance(data, str) else data) for path, data in (files or {}).items()}
    contents[f"{dist_info}/METADATA"] = ("\n".join(lines) + "\n").encode()
    contents[f"{dist_info}/WHEEL"] = (f"Wheel-Version: 1.0\nGenerator: minim-tests\nRoot-Is-Purelib: true\n"
                                      f"Tag: {tag}\n").encode()
    if top_level is not None:
        contents[f"{dist_info}/top_level.txt"] = ("\n".join(top_level) + "\n").encode()
    return _write_wheel(dest / f"{stem}-{version}-{tag}.whl", dist_info, contents)


def build_sdist(dest: Path, name: str, version: str) -> Path:
    """A (never built) source distribution file, enough for an index listing."""
    import tarfile

    stem = re.sub(r"[-_.]+", "_", name)
    path = dest / f"{stem}-{version}.tar.gz"
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as archive:
        data = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
        info = tarfile.TarInfo(f"{stem}-{version}/PKG-INFO")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return path


def repack_installed(name: str, dest: Path) -> Path:
    """A wheel of distribution ``name`` as installed in this interpreter (pure-Python ones only)."""
    dist = metadata.distribution(name)
    dist_info = None
    contents: dict[str, bytes] = {}
    for path in dist.files or []:
        text = str(path).replace("\\", "/")
        if text.startswith("..") or "__pycache__" in text or text.endswith(".pyc"):
            continue
        top_info = re.match(r"^([^/]+\.dist-info)/(RECORD|INSTALLER|REQUESTED|direct_url\.json)$", text)
        if top_info:
            dist_info = top_info.group(1)
            continue
        located = Path(dist.locate_file(path))
        if located.is_file():
            contents[text] = located.read_bytes()
    if dist_info is None:
        dist_info = next(t.split("/")[0] for t in contents if re.match(r"^[^/]+\.dist-info/", t))
    wheel_text = contents.get(f"{dist_info}/WHEEL", b"").decode()
    tags = re.findall(r"^Tag: (.+)$", wheel_text, re.M) or ["py3-none-any"]
    stem = re.sub(r"[-_.]+", "_", dist.metadata["Name"])
    return _write_wheel(dest / f"{stem}-{dist.version}-{tags[0]}.whl", dist_info, contents)


class _Handler(BaseHTTPRequestHandler):
    server_version = "minim-test-index/1"

    def log_message(self, *args):  # keep test output clean
        pass

    def _page(self) -> tuple[int, bytes, str]:
        index: SimpleIndex = self.server.index  # type: ignore[attr-defined]
        path = unquote(self.path.split("?", 1)[0])
        index.requests.append(path)
        parts = [p for p in path.split("/") if p]
        root = index.root
        target = root.joinpath(*parts) if parts else root
        if target.is_file():
            if index.fail_after.get(target.name, 1) <= 0:
                return 503, b"unavailable", "text/plain"
            if target.name in index.fail_after:
                index.fail_after[target.name] -= 1
            kind = "text/html" if target.suffix in (".html", ".htm") else "application/octet-stream"
            return 200, target.read_bytes(), kind
        if not target.is_dir():
            return 404, b"not found", "text/plain"
        if not path.endswith("/"):
            return 301, path.encode(), "redirect"
        links = []
        for child in sorted(target.iterdir()):
            if child.is_dir():
                links.append(f'<a href="{html.escape(child.name)}/">{html.escape(child.name)}</a>')
            else:
                digest = hashlib.sha256(child.read_bytes()).hexdigest()
                links.append(f'<a href="{html.escape(child.name)}#sha256={digest}">{html.escape(child.name)}</a>')
        body = "<!DOCTYPE html><html><body>\n" + "<br/>\n".join(links) + "\n</body></html>\n"
        return 200, body.encode(), "text/html"

    def _answer(self, with_body: bool) -> None:
        status, body, kind = self._page()
        if kind == "redirect":
            self.send_response(301)
            self.send_header("Location", body.decode() + "/")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if with_body:
            self.wfile.write(body)

    def do_GET(self):
        self._answer(True)

    def do_HEAD(self):
        self._answer(False)


class SimpleIndex:
    """PEP 503 indexes served from ``root`` on 127.0.0.1: ``root/<index>/<project>/<files>``."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.requests: list[str] = []
        #: file name -> how many more times it is served before the index answers 503 for it
        self.fail_after: dict[str, int] = {}
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.index = self  # type: ignore[attr-defined]
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> "SimpleIndex":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def url(self, index: str = "simple") -> str:
        return f"{self.base}/{index}"

    def add(self, file: Path, index: str = "simple") -> Path:
        """Publish ``file`` (a wheel or sdist) on ``index`` under its project's normalized name."""
        project = normalize(re.split(r"-\d", file.name, maxsplit=1)[0])
        target = self.root / index / project / file.name
        target.parent.mkdir(parents=True, exist_ok=True)
        if file.resolve() != target.resolve():
            os.replace(file, target)
        return target

    def hits(self, fragment: str) -> int:
        return sum(fragment in path for path in self.requests)


def closed_port_url() -> str:
    """An http URL on 127.0.0.1 where nothing listens."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/simple"


def pip_env(base: dict | None = None, cache: Path | None = None) -> dict:
    """Environment variables for pip/minim subprocesses: no machine pip config, no shared cache."""
    env = {k: v for k, v in (os.environ if base is None else base).items() if k not in PIP_VARIABLES_TO_DROP}
    env["PIP_CONFIG_FILE"] = os.devnull
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_NO_INPUT"] = "1"
    if cache is not None:
        env["PIP_CACHE_DIR"] = str(cache)
    else:
        env["PIP_NO_CACHE_DIR"] = "1"
    return env


def apply_pip_env(monkeypatch, cache: Path | None = None) -> None:
    """Set :func:`pip_env` on this process (for in-process CLI runs whose pip subprocesses inherit it)."""
    wanted = pip_env(cache=cache)
    for name in PIP_VARIABLES_TO_DROP:
        monkeypatch.delenv(name, raising=False)
    for name, value in wanted.items():
        if os.environ.get(name) != value:
            monkeypatch.setenv(name, value)


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def make_venv(venv: Path, wheels: Path, with_setuptools: bool = True) -> Path:
    """A fresh venv whose pip (and setuptools) ``minim install -U`` upgrades to this machine's newest.

    ``python -m venv`` seeds the venv with the pip bundled in ensurepip (an old one); minim then
    upgrades it from wheels repacked from this interpreter, served on a loopback index, so the
    tests run against the newest pip and setuptools available without touching a registry.
    """
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=pip_env())
    python = venv_python(venv)
    wanted = ["pip", "setuptools"] if with_setuptools else ["pip"]
    with SimpleIndex(wheels / "served") as index:
        for name in wanted:
            index.add(repack_installed(name, wheels))
        subprocess.run([sys.executable, "-m", "minim", "install", "--python", str(python), "--upgrade", *wanted,
                        "--index-url", index.url(), "-y"], check=True, env=pip_env(), capture_output=True, text=True)
    return python


def pip_install(python: Path, *args: str, index: str | None = None) -> subprocess.CompletedProcess:
    """Plain pip (not minim) for arranging a venv's state quickly."""
    command = [str(python), "-m", "pip", "install", "--quiet", *(["--index-url", index] if index else ["--no-index"]),
               *args]
    return subprocess.run(command, check=True, env=pip_env(), capture_output=True, text=True)


def pip_uninstall(python: Path, *names: str) -> None:
    subprocess.run([str(python), "-m", "pip", "uninstall", "-y", "--quiet", *names], check=True, env=pip_env(),
                   capture_output=True, text=True)


def installed(python: Path) -> dict[str, str]:
    """``{normalized name: version}`` of the venv, asked of its own interpreter."""
    code = ("import json, importlib.metadata as m; "
            "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))")
    out = subprocess.run([str(python), "-c", code], check=True, capture_output=True, text=True).stdout
    import json

    return {normalize(k): v for k, v in json.loads(out).items()}


# -- shared fixtures' building blocks -------------------------------------------------------------

_TEMPLATE: dict[str, Path] = {}


def template_venv() -> Path:
    """A venv with pip + setuptools, made once per test session and copied by each module."""
    if "venv" not in _TEMPLATE:
        import atexit
        import shutil
        import tempfile

        root = Path(tempfile.mkdtemp(prefix="minim-pkg-template-"))
        atexit.register(shutil.rmtree, root, True)
        make_venv(root / "venv", root / "wheels")
        _TEMPLATE["venv"] = root / "venv"
    return _TEMPLATE["venv"]


def copy_venv(dest: Path) -> Path:
    """A private copy of :func:`template_venv` at ``dest``; returns its interpreter."""
    import shutil

    shutil.copytree(template_venv(), dest, symlinks=True)
    return venv_python(dest)


def publish_fakes(index: SimpleIndex, work: Path) -> None:
    """The packages the install/uninstall/doctor tests use (metadata-only torch family included).

    * ``simple``: torch 2.13.0 and 2.14.1 (no files, no build tag), torchvision 0.28.0 (torch==2.13.0),
      0.29.2 (torch>=2.14.0) and 0.29.1 as an sdist only; ``dupa`` and ``dupa-full`` (both ship
      ``dupa/__init__.py``, with different contents), ``needs-dupa-full`` (requires dupa-full),
      ``app`` (requires helper>=1.0), ``helper`` 1.0, ``broken`` (its import raises);
    * ``whl/cpu``: torch 2.14.1+cpu and torchvision 0.29.2+cpu, standing in for download.pytorch.org/whl/cpu.
    """
    simple = [
        build_wheel(work, "torch", "2.13.0"),
        build_wheel(work, "torch", "2.14.1"),
        build_wheel(work, "torchvision", "0.28.0", requires=["torch==2.13.0"]),
        build_wheel(work, "torchvision", "0.29.2", requires=["torch>=2.14.0"]),
        build_sdist(work, "torchvision", "0.29.1"),
        build_wheel(work, "dupa", "1.0", files={"dupa/__init__.py": 'VARIANT = "lite"\n'}),
        build_wheel(work, "dupa-full", "1.0", files={"dupa/__init__.py": 'VARIANT = "full"\n',
                                                      "dupa/_ext.py": "OPS = True\n"}),
        build_wheel(work, "needs-dupa-full", "1.0", files={"needs_dupa_full.py": "import dupa\n"},
                    requires=["dupa-full"]),
        build_wheel(work, "app", "1.0", files={"app.py": "import helper\n"}, requires=["helper>=1.0"]),
        build_wheel(work, "helper", "1.0", files={"helper.py": "VALUE = 1\n"}),
        build_wheel(work, "broken", "1.0", files={"broken/__init__.py": "raise RuntimeError('broken on purpose')\n"}),
    ]
    for file in simple:
        index.add(file, "simple")
    index.add(build_wheel(work, "torch", "2.14.1+cpu"), "whl/cpu")
    index.add(build_wheel(work, "torchvision", "0.29.2+cpu", requires=["torch>=2.14.0"]), "whl/cpu")


def arrange(python: Path, index_url: str, *requirements: str, keep=("pip", "setuptools")) -> None:
    """Make the venv hold exactly ``keep`` plus ``requirements`` (``name==version``), with as few pip calls as possible."""
    wanted = {normalize(r.split("==")[0]): r.split("==")[1] for r in requirements}
    present = installed(python)
    extra = [name for name, version in present.items()
             if name not in keep and (name not in wanted or wanted[name] != version)]
    missing = [f"{name}=={version}" for name, version in wanted.items() if present.get(name) != version]
    if extra:
        pip_uninstall(python, *extra)
    if missing:
        pip_install(python, "--no-deps", *missing, index=index_url)


# ----------------------------------------------------------------------------- shared fixtures
# Registered for every test module by conftest.py's pytest_plugins; module scope gives each module its own index
# and venv. Modules that run pip declare pytestmark = pytest.mark.usefixtures("isolated_pip").
import pytest  # noqa: E402


def serve_fake_index(tmp_path_factory, extra=None):
    """Yield a started :class:`SimpleIndex` holding the fake distributions (plus ``extra(served, build)``)."""
    root = tmp_path_factory.mktemp("pkg-index")
    with SimpleIndex(root / "served") as served:
        publish_fakes(served, root / "build")
        if extra is not None:
            extra(served, root / "build")
        yield served


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    """A PEP 503 index on 127.0.0.1 serving the fake distributions."""
    yield from serve_fake_index(tmp_path_factory)


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    """A throw-away virtual environment, copied from the session's template."""
    return copy_venv(tmp_path_factory.mktemp("pkg-venv") / "venv")


@pytest.fixture
def isolated_pip(monkeypatch):
    """Keep this machine's pip configuration and PIP_* variables out of the tests."""
    apply_pip_env(monkeypatch)


def build_shared_library(dest: Path, name: str, defines: list[str] = (), uses: list[str] = (),
                         link: list[Path] = ()) -> bytes:
    """Compile ``dest/name``, a real ELF shared library, with the C compiler; returns its bytes.

    ``defines`` and ``uses`` are symbol names (C++ mangled names allowed) it defines and calls;
    ``link`` are libraries it links against, recorded as its ``DT_NEEDED`` entries.
    """
    import shutil

    import pytest

    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip("needs a C compiler to build ELF libraries")
    lines = [f'void f{i}(void) __asm__("{s}");\nvoid f{i}(void) {{}}' for i, s in enumerate(defines)]
    lines += [f'void u{i}(void) __asm__("{s}");' for i, s in enumerate(uses)]
    lines.append("void entry(void) {" + "".join(f" u{i}();" for i in range(len(uses))) + " }")
    dest.mkdir(parents=True, exist_ok=True)
    source = dest / f"{name}.c"
    source.write_text("\n".join(lines) + "\n")
    command = [compiler, "-shared", "-fPIC", "-o", str(dest / name), str(source), "-Wl,--no-as-needed"]
    for library in link:
        command += [f"-L{library.parent}", f"-l:{library.name}"]
    subprocess.run(command, check=True, capture_output=True)
    return (dest / name).read_bytes()


# ----------------------------------------------------------------------------- OpenMMLab layout
MMCV_SETUP = """import os
from setuptools import setup

ops = os.getenv('MMCV_WITH_OPS', '{default}') == '1'
setup(name='mmcv-full' if ops else 'mmcv', version='{version}',
      packages=['mmcv'] + (['mmcv.ops'] if ops else []))
"""

#: an OpenMMLab package's import-time version assert, as mmcls 0.25's __init__.py does it
MM_ASSERT = """import mmcv

def _digits(text):
    return tuple(int(part) for part in text.split('.')[:3])

assert _digits('{low}') <= _digits(mmcv.__version__) < _digits('{high}'), \\
    f'MMCV=={{mmcv.__version__}} is used but incompatible. Please install mmcv>={low}, <{high}.'
__version__ = '{version}'
"""


def build_source_sdist(dest: Path, name: str, version: str, files: dict[str, str]) -> Path:
    """A buildable sdist ``<name>-<version>.tar.gz`` holding ``files`` under ``<name>-<version>/``."""
    import tarfile

    stem = f"{re.sub(r'[-_.]+', '_', name)}-{version}" if name.count("-") else f"{name}-{version}"
    path = dest / f"{stem}.tar.gz"
    dest.mkdir(parents=True, exist_ok=True)
    files = dict(files)
    files.setdefault("PKG-INFO", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    with tarfile.open(path, "w:gz") as archive:
        for relative, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{stem}/{relative}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def mmcv_sdist(dest: Path, project: str, version: str) -> Path:
    """An mmcv-1.x-like sdist: ``MMCV_WITH_OPS`` names the distribution (mmcv / mmcv-full) and adds ``mmcv.ops``
    (default off for ``mmcv``, on for ``mmcv-full``, as upstream's two sdists)."""
    default = "1" if project == "mmcv-full" else "0"
    return build_source_sdist(dest, project, version, {
        "setup.py": MMCV_SETUP.format(default=default, version=version),
        "mmcv/__init__.py": f"__version__ = '{version}'\n",
        "mmcv/ops/__init__.py": "WITH_OPS = True\n"})


def publish_openmmlab(index: SimpleIndex, work: Path) -> None:
    """The OpenMMLab layout on ``simple``: mmcls 0.25.0 (``mim`` extra: mmcv-full>=1.4.2,<1.9.0; asserts the
    mmcv version on import), mmpretrain 1.2.0 (no extra; ``requirements/mminstall.txt`` in its sdist only:
    mmcv>=2.0.0,<2.4.0 and mmengine), mmcv and mmcv-full 1.7.2 sdists, mmcv-lite 2.1.0 and mmengine 0.10.0
    wheels, mmdet 2.28.0 (``mim`` extra, needs ops)."""
    cls_init = MM_ASSERT.format(low="1.4.2", high="1.9.0", version="0.25.0")
    pretrain_init = MM_ASSERT.format(low="2.0.0", high="2.4.0", version="1.2.0") + "import mmengine\n"
    files = [
        build_wheel(work, "mmcls", "0.25.0", files={"mmcls/__init__.py": cls_init},
                    requires=['mmcv-full<1.9.0,>=1.4.2; extra == "mim"']),
        build_wheel(work, "mmdet", "2.28.0", files={"mmdet/__init__.py": "import mmcv.ops\n"},
                    requires=['mmcv-full<1.8.0,>=1.3.17; extra == "mim"']),
        build_wheel(work, "mmpretrain", "1.2.0", files={"mmpretrain/__init__.py": pretrain_init}),
        build_source_sdist(work, "mmpretrain", "1.2.0", {
            "setup.py": "from setuptools import setup\nsetup(name='mmpretrain', version='1.2.0')\n",
            "requirements/mminstall.txt": "mmcv>=2.0.0,<2.4.0\nmmengine>=0.8.3,<1.0.0\n"}),
        build_wheel(work, "mmcv-lite", "2.1.0", files={"mmcv/__init__.py": "__version__ = '2.1.0'\n"}),
        build_wheel(work, "mmengine", "0.10.0", files={"mmengine/__init__.py": "__version__ = '0.10.0'\n"}),
        mmcv_sdist(work, "mmcv", "1.7.2"),
        mmcv_sdist(work, "mmcv-full", "1.7.2"),
    ]
    for file in files:
        index.add(file, "simple")
    index.add(repack_installed("setuptools", work), "simple")


def openmmlab_compat(path: Path, index: SimpleIndex) -> Path:
    """packages.json with mmcv's wheel pages on ``index`` (``/mmcv/dist/<variant>/torch<X.Y>.0/index.html``) and
    the build tools the loopback index has (this machine's setuptools): set MINIM_PACKAGES_FILE to it."""
    import json

    from minim.packages.compat import default_path

    data = json.loads(default_path().read_text())
    for name in ("mmcv", "mmcv-full"):
        data["backends"][name]["find_links"] = index.base + "/mmcv/dist/{variant}/torch{torch_series}.0/index.html"
    for recipe in data["openmmlab"]["mmcv"]["series"].values():
        recipe["build_requires"] = ["setuptools"]
    path.write_text(json.dumps(data))
    return path
