# -*- coding: utf-8 -*-
# Copyright: wpzo.hosting developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Archives for the ``wpzo.hosting.wordpress`` module: the download cache and checksums. An archive is used only
once its checksum matched; a download lands in the cache under a temporary name first. Python 3.8 compatible.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import hashlib
import os
import posixpath
import re
import tempfile

from ansible_collections.wpzo.hosting.plugins.module_utils.errors import ModuleError, SiteError


def file_digest(path, algorithm):
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def checksum_matches(path, checksum):
    algorithm, expected = checksum.split(":", 1)
    actual = file_digest(path, algorithm)
    return actual == expected, "%s:%s" % (algorithm, actual)


def _safe_name(url):
    base = posixpath.basename(url.split("?", 1)[0].split("#", 1)[0]) or "archive"
    return re.sub(r"[^A-Za-z0-9_.-]", "_", base)[:100]


def core_cache_path(cache_dir, version):
    return os.path.join(cache_dir, "core", "wordpress-%s.tar.gz" % version)


def download_cache_path(cache_dir, url, checksum):
    return os.path.join(cache_dir, "downloads", "%s-%s" % (checksum.split(":", 1)[1][:16], _safe_name(url)))


class Archives:
    """Obtain verified archives: from the host (``src``) or downloaded once into the cache (``url``)."""

    def __init__(self, downloader):
        self.downloader = downloader
        self.memo = {}

    def obtain(self, field, src, url, checksum, cache_path):
        """Path of a verified archive; raises SiteError naming ``field`` on any problem."""
        if src is not None:
            if not os.path.isfile(src):
                raise SiteError("%s: %s does not exist or is not a file" % (field.replace("checksum", "src"), src))
            if checksum:
                ok, actual = checksum_matches(src, checksum)
                if not ok:
                    raise SiteError(
                        "%s: %s has %s, expected %s; nothing was extracted" % (field, src, actual, checksum)
                    )
            return src
        key = (url, checksum, cache_path)
        if key in self.memo:
            outcome = self.memo[key]
            if isinstance(outcome, SiteError):
                raise SiteError(outcome.msg)
            return outcome
        try:
            outcome = self._download(field, url, checksum, cache_path)
        except SiteError as exc:
            self.memo[key] = exc
            raise
        self.memo[key] = outcome
        return outcome

    def _download(self, field, url, checksum, cache_path):
        if os.path.isfile(cache_path) and checksum_matches(cache_path, checksum)[0]:
            return cache_path  # cached earlier and still intact
        directory = os.path.dirname(cache_path)
        os.makedirs(directory, mode=0o755, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".download-", dir=directory)
        os.close(fd)
        try:
            try:
                self.downloader(url, tmp)
            except ModuleError as exc:
                what = field.replace("checksum", "url")
                raise SiteError("%s: download of %s failed: %s" % (what, url, exc.msg)) from None
            ok, actual = checksum_matches(tmp, checksum)
            if not ok:
                raise SiteError(
                    "%s: the archive downloaded from %s has %s, expected %s; nothing was extracted"
                    % (field, url, actual, checksum)
                )
            os.chmod(tmp, 0o644)
            os.replace(tmp, cache_path)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        return cache_path
