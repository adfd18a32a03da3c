"""Safe extraction of downloaded archives: ``.tar``, ``.tar.gz``/``.tgz``, ``.zip`` and single-file ``.gz``.

Every member is checked before anything is written for it; the first hostile one stops the extraction
with a one-line :class:`~minim.errors.DataError` naming the archive and the member:

* a name that is absolute (``/etc/x``, ``C:\\x``, ``\\\\host\\x``) or walks up (a ``..`` part);
* a path whose folders lead outside the destination through a link extracted before;
* a symbolic link whose target is absolute or lies outside the destination, a hard link to anything
  but a regular file extracted before (it becomes a copy, never a link);
* a device, FIFO or other special file; a symbolic link in a zip file (zip links are not portable).

Members are extracted into a hidden staging folder inside the destination, and its top-level entries are
moved into place only when the whole archive is done, so a failure leaves no half-extracted dataset
(the staging folder is removed). Files get mode 0644 (0755 when executable): no set-uid bits, no owners.
Progress (bytes of the archive read) goes to a rich bar or plain lines, as downloads do.
"""

from __future__ import annotations

import gzip
import os
import shutil
import stat
import tarfile
import zipfile
from pathlib import Path, PurePosixPath

from minim.errors import DataError

#: archive formats by file-name suffix, longest first
SUFFIXES = ((".tar.gz", "tar.gz"), (".tgz", "tar.gz"), (".tar", "tar"), (".zip", "zip"), (".gz", "gz"))
FORMATS = ("tar", "tar.gz", "zip", "gz")
_COPY_BLOCK = 1 << 20


def archive_format(name: str) -> str | None:
    """The format of an archive called ``name`` (``'tar.gz'``, ``'tar'``, ``'zip'``, ``'gz'``), or None."""
    lowered = name.lower()
    return next((fmt for suffix, fmt in SUFFIXES if lowered.endswith(suffix)), None)


def extract(archive: Path, dest: Path, fmt: str | None = None, *, overwrite: bool = False,
            progress="auto") -> list[Path]:
    """Extract ``archive`` into ``dest`` safely (see the module docstring); return the top-level paths made.

    ``fmt`` defaults to :func:`archive_format` of the name. An existing top-level entry is replaced only
    with ``overwrite``; otherwise it is an error naming it.
    """
    archive, dest = Path(archive), Path(dest)
    fmt = fmt or archive_format(archive.name)
    if fmt not in FORMATS:
        raise DataError(f"{archive}: unknown archive format {fmt!r}; known: {', '.join(FORMATS)}")
    dest.mkdir(parents=True, exist_ok=True)
    staging = dest / f".minim-extract-{archive.name}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    reporter = _reporter(progress, archive)
    ok = False
    try:
        {"tar": _extract_tar, "tar.gz": _extract_tar, "zip": _extract_zip, "gz": _extract_gz}[fmt](
            archive, staging, reporter)
        ok = True
        return _move_into_place(staging, dest, overwrite)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, gzip.BadGzipFile) as exc:
        raise DataError(f"{archive} is not a readable {fmt} archive: {exc}",
                        hint="delete it and download it again") from exc
    finally:
        reporter.finish(ok)
        shutil.rmtree(staging, ignore_errors=True)


# -- member checks ------------------------------------------------------------------------------------
def _refuse(archive: Path, name: str, why: str) -> DataError:
    return DataError(f"{archive}: refusing member {name!r}: {why}", hint="the archive is damaged or hostile; "
                     "nothing of it was kept")


def safe_member_path(archive: Path, name: str) -> PurePosixPath:
    """The member ``name`` as a relative path, or a :class:`DataError` when absolute or walking up."""
    text = name.replace("\\", "/")
    if text.startswith("/") or (len(text) > 1 and text[1] == ":"):
        raise _refuse(archive, name, "absolute path")
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise _refuse(archive, name, "its path leaves the destination ('..')")
    return PurePosixPath(*parts) if parts else PurePosixPath(".")


def _inside(root: Path, path: str) -> bool:
    root_real = os.path.realpath(root)
    return os.path.commonpath([root_real, os.path.realpath(path)]) == root_real


def _target(archive: Path, root: Path, name: str) -> Path:
    relative = safe_member_path(archive, name)
    target = root / relative
    if not _inside(root, os.fspath(target.parent)):
        raise _refuse(archive, name, "a link extracted before leads its folder outside the destination")
    if os.path.islink(target):  # never write through a link
        os.unlink(target)
    return target


def _write(target: Path, source, executable: bool) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "wb") as out:
        shutil.copyfileobj(source, out, _COPY_BLOCK)
    os.chmod(target, 0o755 if executable else 0o644)


# -- formats ------------------------------------------------------------------------------------------
def _extract_tar(archive: Path, root: Path, reporter) -> None:
    extracted: set[PurePosixPath] = set()
    with open(archive, "rb") as raw, tarfile.open(fileobj=raw, mode="r|*") as tar:
        reporter.start(os.fstat(raw.fileno()).st_size)
        for member in tar:
            _extract_tar_member(archive, root, tar, member, extracted)
            reporter.update(raw.tell())


def _extract_tar_member(archive, root, tar, member: tarfile.TarInfo, extracted: set) -> None:
    name = member.name
    target = _target(archive, root, name)
    if member.isdir():
        target.mkdir(parents=True, exist_ok=True)
    elif member.isreg():
        _write(target, tar.extractfile(member), bool(member.mode & 0o100))
        extracted.add(safe_member_path(archive, name))
    elif member.issym():
        link = member.linkname
        if link.startswith(("/", "\\")) or (len(link) > 1 and link[1] == ":"):
            raise _refuse(archive, name, f"symbolic link to the absolute path {link!r}")
        if not _inside(root, os.path.join(target.parent, link)):
            raise _refuse(archive, name, f"symbolic link to {link!r}, outside the destination")
        target.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(link, target)
    elif member.islnk():
        parts = [p for p in member.linkname.replace("\\", "/").split("/") if p not in ("", ".")]
        source = PurePosixPath(*parts) if parts and ".." not in parts else None
        if member.linkname.startswith(("/", "\\")) or source not in extracted:
            raise _refuse(archive, name, f"hard link to {member.linkname!r}, not a file extracted before")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / source, target)
        extracted.add(safe_member_path(archive, name))
    else:
        raise _refuse(archive, name, "device, FIFO or other special file")


def _extract_zip(archive: Path, root: Path, reporter) -> None:
    with zipfile.ZipFile(archive) as bundle:
        infos = bundle.infolist()
        reporter.start(sum(info.compress_size for info in infos))
        done = 0
        for info in infos:
            mode = info.external_attr >> 16
            kind = stat.S_IFMT(mode)  # 0 when the zip was not made on unix
            target = _target(archive, root, info.filename)
            if kind == stat.S_IFLNK:
                raise _refuse(archive, info.filename, "symbolic link (not extracted from zip files)")
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
            elif kind not in (0, stat.S_IFREG):
                raise _refuse(archive, info.filename, "device, FIFO or other special file")
            else:
                with bundle.open(info) as source:
                    _write(target, source, bool(mode & 0o100))
            done += info.compress_size
            reporter.update(done)


def _extract_gz(archive: Path, root: Path, reporter) -> None:
    name = archive.name[:-3] if archive.name.lower().endswith(".gz") else archive.name + ".out"
    with open(archive, "rb") as raw, gzip.GzipFile(fileobj=raw) as source, open(root / name, "wb") as out:
        reporter.start(os.fstat(raw.fileno()).st_size)
        while True:
            block = source.read(_COPY_BLOCK)
            if not block:
                break
            out.write(block)
            reporter.update(raw.tell())


def _move_into_place(staging: Path, dest: Path, overwrite: bool) -> list[Path]:
    entries = sorted(staging.iterdir())
    clashes = [dest / e.name for e in entries if os.path.lexists(dest / e.name)]
    if clashes and not overwrite:
        raise DataError(f"{clashes[0]} already exists", hint="pass --overwrite to replace it")
    placed = []
    for entry in entries:
        final = dest / entry.name
        if os.path.lexists(final):
            shutil.rmtree(final) if final.is_dir() and not final.is_symlink() else final.unlink()
        os.replace(entry, final)
        placed.append(final)
    return placed


# -- progress -----------------------------------------------------------------------------------------
def _reporter(progress, archive: Path):
    from minim.net.progress import BarReporter, Reporter, resolve_mode

    mode = resolve_mode(progress)
    if mode == "bar":
        return BarReporter(f"extracting {archive.name}")
    if mode == "lines":
        return _LineReporter(archive.name)
    return Reporter(archive.name)


class _LineReporter:
    """One line when extraction starts and one when it ends (archives are read fast)."""

    def __init__(self, label: str):
        self.label = label

    def start(self, total: int, done: int = 0) -> None:
        import sys

        print(f"extracting {self.label}", file=sys.stderr, flush=True)

    def update(self, done: int) -> None:
        pass

    def finish(self, ok: bool) -> None:
        import sys

        if ok:
            print(f"  {self.label}: extracted", file=sys.stderr, flush=True)
