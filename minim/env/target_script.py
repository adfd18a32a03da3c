"""Runs INSIDE the target interpreter and prints JSON; minim never imports this module itself.

Standard library only and Python 3.8+ syntax, because the target environment may be older
than minim's and need not have minim, packaging or anything else installed.
Commands (``python target_script.py <command> [json-argument]``):

* ``probe [--files]`` -- interpreter, marker environment and every installed distribution
  (name, version, requirements, top-level import packages, install time, ...). With
  ``--files`` it also reads every RECORD to find files that two distributions both ship with
  different contents, and which distribution's copy is on disk now.
* ``verify '[["name", "expected version"], ...]'`` -- installed version and an import of each
  top-level package, each failure as ``"ExcType: message"``.
* ``overlaps '["name", ...]'`` -- the files each named distribution shares with other installed ones
  (what ``pip uninstall`` of it would delete from under them).
* ``opscheck`` -- imports torch and torchvision and runs ``torchvision.ops.nms`` on tiny tensors.
"""

import base64
import csv
import hashlib
import json
import os
import platform
import re
import sys
import sysconfig
import traceback

# this file's folder (minim/env) must not shadow anything the target imports
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]

try:
    import importlib.metadata as metadata
except ImportError:  # pragma: no cover - Python < 3.8 has no importlib.metadata
    print("\n@@minim-answer@@ " + json.dumps({"error": "Python %s has no importlib.metadata (3.8+ needed)"
                                             % platform.python_version()}))
    sys.exit(3)

TORCH_FAMILY = ("torch", "torchvision", "torchaudio")
#: what precedes the JSON answer on stdout (minim.env.probe looks for it)
ANSWER_MARKER = "@@minim-answer@@ "


def canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def marker_environment():
    """The PEP 508 marker values (the same keys as packaging's default_environment())."""
    info = sys.implementation.version
    version = "%d.%d.%d" % (info.major, info.minor, info.micro)
    if info.releaselevel != "final":
        version += info.releaselevel[0] + str(info.serial)
    return {
        "implementation_name": sys.implementation.name,
        "implementation_version": version,
        "os_name": os.name,
        "platform_machine": platform.machine(),
        "platform_release": platform.release(),
        "platform_system": platform.system(),
        "platform_version": platform.version(),
        "python_full_version": platform.python_version(),
        "platform_python_implementation": platform.python_implementation(),
        "python_version": ".".join(platform.python_version_tuple()[:2]),
        "sys_platform": sys.platform,
    }


def dist_info_path(dist):
    path = getattr(dist, "_path", None)
    return str(path) if path is not None else None


def record_rows(dist):
    """``(path, hash or None)`` for each RECORD line (parsed directly: much faster than ``dist.files``)."""
    text = dist.read_text("RECORD")
    if not text:
        return []
    rows = []
    for row in csv.reader(text.splitlines()):
        if row and row[0]:
            rows.append((row[0].replace("\\", "/"), row[1] if len(row) > 1 and row[1] else None))
    return rows


def top_level_names(dist, rows=None):
    text = dist.read_text("top_level.txt")
    if text:
        return sorted({line.strip().replace("/", ".").split(".")[0] for line in text.splitlines() if line.strip()})
    names = set()
    for path, _ in rows if rows is not None else record_rows(dist):
        parts = path.split("/")
        first = parts[0]
        if first in ("..", "") or first.endswith((".dist-info", ".egg-info", ".data")) or first == "__pycache__":
            continue
        if len(parts) == 1:
            if first.endswith(".py"):
                names.add(first[:-3])
            elif first.endswith((".so", ".pyd")):
                names.add(first.split(".")[0])
            continue
        names.add(first)
    return sorted(names)


def read_json(dist, name):
    text = dist.read_text(name)
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def describe_dist(dist, meta, with_files):
    name = meta["Name"] or ""
    rows = record_rows(dist) if with_files else None
    info_path = dist_info_path(dist)
    direct_url = read_json(dist, "direct_url.json") or {}
    record = {
        "name": name,
        "version": meta["Version"],
        "requires": list(meta.get_all("Requires-Dist") or []),
        "requires_python": meta["Requires-Python"],
        "summary": meta["Summary"],
        "top_level": top_level_names(dist, rows),
        "location": str(dist.locate_file("")),
        "dist_info": info_path,
        "installed_at": os.path.getmtime(info_path) if info_path and os.path.exists(info_path) else None,
        "installer": (dist.read_text("INSTALLER") or "").strip() or None,
        "requested": dist.read_text("REQUESTED") is not None,
        "editable": bool((direct_url.get("dir_info") or {}).get("editable")),
        "direct_url": direct_url.get("url"),
    }
    if canonical(name) in TORCH_FAMILY:
        package = canonical(name)
        version_py = dist.locate_file("%s/version.py" % package)
        record["version_py"] = _read(version_py)
        record["has_package"] = os.path.exists(str(dist.locate_file("%s/__init__.py" % package)))
    return record, rows


def _name_from_path(dist):
    """``ghost`` of ``.../ghost-1.0.dist-info`` (the metadata itself cannot say)."""
    path = dist_info_path(dist)
    if not path:
        return None
    base = os.path.basename(path.rstrip("/\\"))
    return base.split("-")[0] if base.endswith((".dist-info", ".egg-info")) else None


def _read(path):
    try:
        with open(str(path), encoding="utf-8") as handle:
            return handle.read()
    except OSError:
        return None


def file_hash(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return "sha256=" + base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode("ascii")


def shared_files(entries):
    """Files that two or more distributions ship with different contents, grouped by import package."""
    owners = {}
    for name, dist, rows in entries:
        for key, digest in rows or ():
            if key.startswith("..") or ".dist-info/" in key or "/__pycache__/" in key or digest is None:
                continue
            owners.setdefault(key, []).append((name, dist, digest))
    groups = {}
    for key, owned in owners.items():
        if len(owned) < 2 or len({canonical(n) for n, _, _ in owned}) < 2:
            continue
        if len({digest for _, _, digest in owned}) < 2:
            continue  # identical contents (e.g. an empty namespace __init__.py): harmless
        package = key.split("/")[0]
        if package.endswith(".py"):
            package = package[:-3]
        groups.setdefault(package, []).append((key, owned))
    result = []
    for package, items in sorted(groups.items()):
        items.sort(key=lambda item: (not item[0].endswith("/__init__.py"), item[0]))
        sample, owned = items[0]
        on_disk = None
        disk_path = str(owned[0][1].locate_file(sample))
        if os.path.exists(disk_path):
            actual = file_hash(disk_path)
            for name, _, digest in owned:
                if digest == actual:
                    on_disk = name
        names = []
        for _, owned_item in items:
            for name, _, _ in owned_item:
                if name not in names:
                    names.append(name)
        result.append({
            "package": package,
            "distributions": sorted(names, key=lambda n: n.lower()),
            "sample_file": sample,
            "differing_files": len(items),
            "on_disk": on_disk,
            "origin": module_origin(package),
        })
    return result


def module_origin(package):
    """Where ``import package`` would load from, found without importing it."""
    import importlib.util

    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if spec.origin and spec.origin != "namespace":
        return spec.origin
    locations = list(spec.submodule_search_locations or [])
    return locations[0] if locations else None


def metadata_problem(dist):
    """``(meta, None)``, or ``(None, what is wrong)`` for a metadata folder pip itself would crash on."""
    try:
        if dist.read_text("METADATA") is None and dist.read_text("PKG-INFO") is None:
            return None, "no METADATA file"
        meta = dist.metadata
    except Exception as exc:
        return None, "unreadable metadata (%s: %s)" % (type(exc).__name__, exc)
    if not meta["Name"]:
        return None, "no Name in its metadata"
    if not meta["Version"]:
        return None, "no Version in its metadata"
    return meta, None


def missing_files(dist, rows):
    """``(count, sample)`` of RECORD entries that are not on disk (compiled .pyc files aside)."""
    missing = [path for path, _ in rows or ()
               if not path.endswith(".pyc") and "__pycache__/" not in path
               and not os.path.lexists(str(dist.locate_file(path)))]
    return len(missing), (missing[0] if missing else None)


def probe(with_files):
    seen = set()
    dists, entries, broken = [], [], []
    for dist in metadata.distributions():
        meta, problem = metadata_problem(dist)
        if problem is not None:
            broken.append({"path": dist_info_path(dist), "problem": problem, "name": _name_from_path(dist)})
            continue
        name = meta["Name"]
        if canonical(name) in seen:
            continue  # the first one on sys.path is the one imports and pip see
        seen.add(canonical(name))
        record, rows = describe_dist(dist, meta, with_files)
        if with_files:
            record["missing_files"], record["missing_sample"] = missing_files(dist, rows)
        dists.append(record)
        if with_files:
            entries.append((name, dist, rows))
    try:
        pip_version = metadata.version("pip")
    except metadata.PackageNotFoundError:
        pip_version = None
    result = {
        "executable": sys.executable,
        "python_version": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": sysconfig.get_platform(),
        "system": platform.system(),
        "machine": platform.machine(),
        "prefix": sys.prefix,
        "base_prefix": getattr(sys, "base_prefix", sys.prefix),
        "markers": marker_environment(),
        "pip_version": pip_version,
        "distributions": dists,
        "broken_metadata": broken,
        "display": bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")),
    }
    if with_files:
        result["shared_files"] = shared_files(entries)
    return result


def _owned_paths(dist):
    """RECORD paths of ``dist`` that are real shared-file candidates (no metadata, caches or outside paths)."""
    for path, _ in record_rows(dist):
        first = path.split("/")[0]
        if first.endswith((".dist-info", ".egg-info")) or first == ".." or "__pycache__/" in path:
            continue
        yield path


def overlaps(names):
    """``{name: {other distribution: [paths]}}``: files each of ``names`` shares with a distribution not in ``names``."""
    wanted = set(canonical(n) for n in names)
    owners, seen = {}, set()
    for dist in metadata.distributions():
        meta, problem = metadata_problem(dist)
        if problem is not None or canonical(meta["Name"]) in seen:
            continue
        seen.add(canonical(meta["Name"]))
        for path in _owned_paths(dist):
            owners.setdefault(path, []).append(meta["Name"])
    result = {}
    for path, owned in sorted(owners.items()):
        for name in owned:
            if canonical(name) not in wanted:
                continue
            for other in owned:
                if canonical(other) not in wanted:
                    result.setdefault(name, {}).setdefault(other, []).append(path)
    return result


def verify(items):
    results = []
    for name, expected in items:
        entry = {"name": name, "expected": expected, "installed": None, "imports": {}, "error": None}
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            entry["error"] = "not installed"
            results.append(entry)
            continue
        entry["installed"] = dist.version
        for top in top_level_names(dist):
            if top.startswith("_") or not top.isidentifier():
                continue
            try:
                __import__(top)
                entry["imports"][top] = None
            except BaseException as exc:  # report, never crash: SystemExit from a broken package too
                entry["imports"][top] = "%s: %s" % (type(exc).__name__, exc)
        results.append(entry)
    return results


def opscheck():
    result = {"ok": False, "error": None, "torch_cuda": None, "cuda_available": None}
    try:
        import torch
        import torchvision

        result["torch_cuda"] = torch.version.cuda
        result["cuda_available"] = bool(torch.cuda.is_available())
        boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0], [1.0, 1.0, 11.0, 11.0]])
        scores = torch.tensor([0.9, 0.8])
        keep = torchvision.ops.nms(boxes, scores, 0.5)
        result["ok"] = keep.tolist() == [0]
        if not result["ok"]:
            result["error"] = "torchvision.ops.nms returned %r, expected [0]" % keep.tolist()
    except BaseException as exc:
        lines = traceback.format_exception_only(type(exc), exc)
        result["error"] = lines[-1].strip() if lines else repr(exc)
    return result


def main(argv):
    command = argv[0] if argv else "probe"
    if command == "probe":
        output = probe("--files" in argv[1:])
    elif command == "verify":
        output = verify(json.loads(argv[1]))
    elif command == "overlaps":
        output = overlaps(json.loads(argv[1]))
    elif command == "opscheck":
        output = opscheck()
    else:
        output = {"error": "unknown command %r" % command}
    # on a line of its own after a marker: imported packages may have printed (without a newline) before
    sys.stdout.write("\n" + ANSWER_MARKER + json.dumps(output) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
