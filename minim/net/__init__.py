"""HTTP downloads: retries, resume, checksums, cache, mirrors and offline mode."""
