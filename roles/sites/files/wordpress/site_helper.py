# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Managed by wpzo.hosting: the sites role installs this file; changes are overwritten.
"""Extracts archives and writes files inside a site's tree, for the wpzo.hosting.wordpress module.

Runs as the site user (setpriv), reads its payload from stdin, prints a JSON line on success, an error on stderr
and exits 1 on failure; never leaves a partial extraction behind. The sites role installs it under
/usr/local/lib/wpzo/wordpress/; the module runs it with ``python3 -I``.
"""

import contextlib
import io
import json
import os
import posixpath
import re
import shutil
import stat
import sys
import tarfile
import tempfile
import zipfile


def fail(msg):
    sys.stderr.write(msg + "\n")
    sys.exit(1)


def members(kind, data):
    if kind == "tar":
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as archive:
            for info in archive.getmembers():
                if info.isdir():
                    yield info.name, "dir", None, 0
                elif info.isfile():
                    yield info.name, "file", (lambda i=info: archive.extractfile(i).read()), info.mode
                else:
                    fail("archive member %r is not a regular file or directory" % info.name)
    else:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for info in archive.infolist():
                mode = info.external_attr >> 16
                if stat.S_ISLNK(mode):
                    fail("archive member %r is a symbolic link" % info.filename)
                if info.is_dir():
                    yield info.filename, "dir", None, 0
                else:
                    yield info.filename, "file", (lambda i=info: archive.read(i)), mode


def clean(name, top):
    path = posixpath.normpath(name.replace("\\", "/"))
    parts = path.split("/")
    if name.startswith("/") or ".." in parts or parts[0] != top:
        fail("archive member %r is not inside %s/" % (name, top))
    return path


def extract(kind, dest, top, strip, expect_version):
    data = sys.stdin.buffer.read()
    # Extract next to dest (same file system: the final moves are renames), else inside it; dest itself is
    # only created once the archive passed every check.
    parent = os.path.dirname(dest) if strip else dest
    if not os.path.isdir(parent):
        os.makedirs(parent, 0o755)
    try:
        tmp = tempfile.mkdtemp(prefix=".wpzo-extract-", dir=parent)
        if os.path.isdir(dest) and os.stat(tmp).st_dev != os.stat(dest).st_dev:
            os.rmdir(tmp)
            raise OSError("another file system")
    except OSError:
        if not os.path.isdir(dest):
            raise
        tmp = tempfile.mkdtemp(prefix=".wpzo-extract-", dir=dest)
    try:
        count = 0
        for name, kind_, read, mode in members(kind, data):
            target = os.path.join(tmp, clean(name, top))
            if kind_ == "dir":
                if not os.path.isdir(target):
                    os.makedirs(target, 0o755)
                continue
            if not os.path.isdir(os.path.dirname(target)):
                os.makedirs(os.path.dirname(target), 0o755)
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o755 if mode & 0o111 else 0o644)
            with os.fdopen(fd, "wb") as handle:
                handle.write(read())
            count += 1
        root = os.path.join(tmp, top)
        if not count or not os.path.isdir(root):
            fail("the archive holds no files below %s/" % top)
        found = None
        if expect_version:
            try:
                with open(os.path.join(root, "wp-includes", "version.php")) as handle:
                    match = re.search(r"^\$wp_version\s*=\s*'([^']+)'", handle.read(), re.M)
                found = match.group(1) if match else None
            except OSError:
                found = None
            if found != expect_version:
                found_text = found or "(no wp-includes/version.php)"
                fail("the archive holds WordPress %s, not %s" % (found_text, expect_version))
        kept = []
        if not os.path.isdir(dest):
            os.makedirs(dest, 0o755)
        if strip:

            def merge(src, dst, rel):
                for entry in sorted(os.listdir(src)):
                    s, d = os.path.join(src, entry), os.path.join(dst, entry)
                    if not os.path.lexists(d):
                        os.rename(s, d)
                    elif os.path.isdir(s) and os.path.isdir(d) and not os.path.islink(d):
                        merge(s, d, rel + entry + "/")
                    else:
                        kept.append(rel + entry)

            merge(root, dest, "")
        else:
            final = os.path.join(dest, top)
            if os.path.lexists(final):
                fail("%s already exists" % final)
            os.rename(root, final)
        print(json.dumps({"files": count, "kept": kept, "version": found}))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write(gid):
    # stdin: JSON [{"path": ..., "mode": "0640", "content": ...}]; each file replaced atomically.
    written = []
    for item in json.loads(sys.stdin.buffer.read().decode("utf-8")):
        dest = item["path"]
        directory = os.path.dirname(dest)
        if not os.path.isdir(directory):
            os.makedirs(directory, 0o755)
        tmp = os.path.join(directory, ".wpzo-%s.tmp" % os.urandom(6).hex())
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                if gid >= 0 and os.fstat(handle.fileno()).st_gid != gid:
                    os.fchown(handle.fileno(), -1, gid)
                os.fchmod(handle.fileno(), int(item["mode"], 8))
                handle.write(item["content"].encode("utf-8"))
            os.rename(tmp, dest)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        written.append(dest)
    print(json.dumps({"written": written}))


def main():
    os.umask(0o022)
    command = sys.argv[1]
    try:
        if command == "extract":
            kind, dest, top, strip, expect = sys.argv[2:7]
            extract(kind, dest, top, strip == "strip", expect)
        elif command == "write":
            write(int(sys.argv[2]))
        else:
            fail("unknown command %r" % command)
    except Exception as exc:  # tarfile.TarError, zipfile.BadZipFile, OSError ...
        fail("%s: %s" % (type(exc).__name__, exc))


main()
