"""What a downloaded file must be (sha256 digest or prefix, size) and checks of files against it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from minim.net.names import normalise_sha256, sha256_prefix_from_name

READ_BLOCK = 1 << 20


def file_sha256(path: Path, limit: int | None = None):
    """A sha256 hasher fed with the first ``limit`` bytes of ``path`` (all of it when None)."""
    hasher = hashlib.sha256()
    remaining = limit
    with open(path, "rb", buffering=0) as handle:
        buffer = bytearray(READ_BLOCK)
        view = memoryview(buffer)
        while remaining is None or remaining > 0:
            want = READ_BLOCK if remaining is None else min(READ_BLOCK, remaining)
            got = handle.readinto(view[:want])
            if not got:
                break
            hasher.update(view[:got])
            if remaining is not None:
                remaining -= got
    return hasher


@dataclass(frozen=True)
class Expectation:
    """The expected sha256 (full hex digest or a prefix of it) and size in bytes; None = unknown."""

    digest: str | None = None
    size: int | None = None
    digest_from_name: bool = False

    @classmethod
    def for_download(cls, name: str, sha256: str | None, size: int | None) -> "Expectation":
        """From explicit values, falling back to the digest prefix in a torch-hub style file ``name``."""
        if size is not None and (not isinstance(size, int) or size < 0):
            raise ValueError(f"size must be a non-negative int, not {size!r}")
        digest = normalise_sha256(sha256)
        if digest is not None:
            return cls(digest, size)
        from_name = sha256_prefix_from_name(name)
        return cls(from_name, size, digest_from_name=from_name is not None)

    def expected_text(self) -> str:
        """The expected digest as shown to users (``abcd1234...`` for a prefix)."""
        if self.digest is None:
            return "(none)"
        shown = self.digest if len(self.digest) == 64 else self.digest + "..."
        return shown + (" (from the file name)" if self.digest_from_name else "")

    def size_problem(self, actual_size: int) -> str | None:
        """Why ``actual_size`` is wrong, or None."""
        if self.size is not None and actual_size != self.size:
            return f"it has {actual_size} bytes, expected {self.size}"
        return None

    def digest_problem(self, actual_digest: str) -> str | None:
        """Why ``actual_digest`` (full hex) is wrong, or None."""
        if self.digest is not None and not actual_digest.startswith(self.digest):
            return f"expected sha256 {self.expected_text()}, actual sha256 {actual_digest}"
        return None

    def problem(self, actual_digest: str, actual_size: int) -> str | None:
        """The first mismatch of a file with this digest and size, or None when it fits."""
        return self.size_problem(actual_size) or self.digest_problem(actual_digest)
