"""HTTP downloads: retries, resume, checksums, cache, mirrors and offline mode.

* :mod:`minim.net.download`  ``download()`` / ``fetch_cached()``, the public entry points;
* :mod:`minim.net.transfer`  one URL into a ``.part`` file (Range resume, drops, HTTP errors);
* :mod:`minim.net.session`   requests session: urllib3 retries, timeouts (``MINIM_TIMEOUT``), User-Agent;
* :mod:`minim.net.cache`     the ``$MINIM_HOME/weights`` layout and per-file locks;
* :mod:`minim.net.verify`    expected sha256 (digest or prefix) and size;
* :mod:`minim.net.names`     safe file names from URLs, digest prefixes from torch-hub style names;
* :mod:`minim.net.mirror`    ``MINIM_MIRROR`` / ``--mirror`` specs;
* :mod:`minim.net.progress`  progress bar / lines on stderr.

Nothing here imports torch; ``import minim.net.download`` does not even import requests until a
file is actually fetched.
"""
