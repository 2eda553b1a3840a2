# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The controller-side credentials store: one file per secret, generated once, reused on every run.

Pure logic of the ``wpzo.hosting.credential`` lookup; the lookup gives it the run's vault (an object with
``can_encrypt``, ``encrypt(text)`` and ``decrypt(vaulttext)``) and whether the run is in check mode.

- Where: ``default_store`` (``credentials/<inventory name>/<host>`` beside the ``inventories`` folder), never in a
  folder an inventory parser reads (``inventory_parses``); ``plan_migration``/``apply_migration`` move a store of
  the old layout (``<inventory dir>/credentials/<host>``) there, never regenerating a secret.
- How: a secret file holds the value, or the value encrypted with ansible-vault (``$ANSIBLE_VAULT;...``, the
  format of ``ansible-vault encrypt``); files 0600, folders created 0700 whatever the umask. A folder holding any
  plaintext secret carries a ``.gitignore`` ignoring it all, so only an encrypted store can be committed.
- When a secret is missing: it is generated and stored, unless its account already exists on the server
  (``existing``) and no rotation was asked for, in which case the run is refused (a new value would lock the
  account's users out). In check mode nothing is written anywhere: a missing secret gets a placeholder,
  ``CHECKMODE`` and the digest of its name (no secret: a diff may show it), the same for every task of the run, so
  later tasks report what a real run would change and no spurious differences between two tasks.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import hashlib
import os
import re
import secrets
import string
import tempfile

# Printable ASCII without whitespace; consumers (SQL, PHP, Redis ACL) must escape, never avoid, these.
PRINTABLE = string.ascii_letters + string.digits + string.punctuation
ALPHANUMERIC = string.ascii_letters + string.digits
CHARSETS = {"printable": PRINTABLE, "alphanumeric": ALPHANUMERIC}
PLACEHOLDER_MARK = "CHECKMODE"
# A part never starts with a dot: hidden files (.gitignore, .tmp-*) belong to the store itself.
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_@-][A-Za-z0-9_.@-]*(/[A-Za-z0-9_@-][A-Za-z0-9_.@-]*)*$")
VAULT_HEADER = "$ANSIBLE_VAULT;"
ENCRYPT_MODES = ("auto", "always", "never")
DIR_MODE = 0o700
FILE_MODE = 0o600
GUARD_NAME = ".gitignore"
GUARD_TEXT = (
    "# Written by wpzo.hosting: this store holds plaintext secrets; they are never committed.\n"
    "# Run with a vault password (ansible-playbook --vault-password-file ...) to encrypt them in place.\n"
    "*\n"
)
INVENTORIES_FOLDER = "inventories"
FIX_HINT = (
    "give this run the vault password the store is encrypted with (--vault-password-file, --vault-id or "
    "ANSIBLE_VAULT_PASSWORD_FILE), or restore the store from the repository or a backup"
)


class CredentialError(ValueError):
    """A secret that cannot be read, stored or generated safely; the message names it, never its value."""


def generate(length, charset="printable"):
    alphabet = CHARSETS[charset]
    return "".join(secrets.choice(alphabet) for _position in range(length))


def placeholder(name, length):
    """The check-mode value of a missing secret: never stored, and no secret at all (made of the word CHECKMODE and
    the digest of its name only), so a diff that shows it tells the reader a new secret would be generated there;
    the same in every task of a run, in either charset."""
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()
    return ((PLACEHOLDER_MARK + digest) * (length // (len(PLACEHOLDER_MARK) + len(digest)) + 1))[:length]


def credential_path(store, name):
    if not NAME_PATTERN.match(name) or any(part in (".", "..") for part in name.split("/")):
        raise CredentialError(
            "invalid credential name %r: use letters, digits, '_.@-' and '/' between parts "
            "(a part does not start with a dot)" % name
        )
    return os.path.join(store, name)


# ---------------------------------------------------------------------------------------------------- where


def default_store(inventory_dir, inventory_hostname):
    """``(store, legacy)`` for a host of the inventory in ``inventory_dir``.

    The store is ``<project>/credentials/<inventory name>/<host>`` for the layout ``<project>/inventories/<name>/``,
    outside every folder ``-i inventories/<name>`` or ``-i inventories/`` parses; ``legacy`` is where earlier
    versions kept it (``<inventory dir>/credentials/<host>``), to migrate from.
    """
    if not inventory_dir:
        raise CredentialError(
            "the host has no inventory folder: set wpzo_credentials_dir to the folder of its secrets "
            "(outside every folder an inventory parser reads)"
        )
    inventory = os.path.normpath(os.path.abspath(inventory_dir))
    parent = os.path.dirname(inventory)
    if os.path.basename(parent) != INVENTORIES_FOLDER:
        raise CredentialError(
            "the inventory %s is not in an '%s' folder, so the default store (credentials/<inventory>/<host> "
            "beside that folder) has no place: set wpzo_credentials_dir to the folder of the host's secrets "
            "(outside every folder an inventory parser reads)" % (inventory, INVENTORIES_FOLDER)
        )
    store = os.path.join(os.path.dirname(parent), "credentials", os.path.basename(inventory), inventory_hostname)
    legacy = os.path.join(inventory, "credentials", inventory_hostname)
    return store, legacy


def _inside(path, folder):
    path, folder = os.path.realpath(path), os.path.realpath(folder)
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def inventory_parses(store, sources):
    """The inventory source folder that would parse files of ``store`` (Ansible reads every file below a folder
    given with ``-i``, except hidden ones, group_vars and host_vars), else None."""
    for source in sources or ():
        if not isinstance(source, str) or not os.path.isdir(source):
            continue
        if not _inside(store, source):
            continue
        relative = os.path.relpath(os.path.realpath(store), os.path.realpath(source))
        parts = [] if relative == "." else relative.split(os.sep)
        if any(part.startswith(".") or part in ("group_vars", "host_vars", "vars_plugins") for part in parts):
            continue
        return source
    return None


# ------------------------------------------------------------------------------------------------ files


def make_dirs(directory):
    """Create ``directory`` and its missing parents 0700, whatever the umask; existing folders are left alone."""
    directory = os.path.abspath(directory)
    missing = []
    while not os.path.isdir(directory):
        missing.append(directory)
        parent = os.path.dirname(directory)
        if parent == directory:
            break
        directory = parent
    for path in reversed(missing):
        try:
            os.mkdir(path, DIR_MODE)
        except OSError as exc:
            if exc.errno != errno.EEXIST or not os.path.isdir(path):
                raise
            continue
        os.chmod(path, DIR_MODE)


def is_encrypted(text):
    return text.lstrip().startswith(VAULT_HEADER)


def read_text(path):
    """The file's text, or None when it does not exist."""
    try:
        with open(path) as handle:
            return handle.read()
    except (IOError, OSError) as exc:
        if exc.errno == errno.ENOENT:
            return None
        raise


def decode(text, name, vault):
    """The secret held by a file's text (decrypted when vault-encrypted); None when empty."""
    if is_encrypted(text):
        if vault is None or not vault.has_secrets:
            raise CredentialError(
                "%s is encrypted with ansible-vault and this run has no vault password: %s. "
                "Nothing was generated or changed: a new value would lock out the account that uses it."
                % (name, FIX_HINT)
            )
        try:
            text = vault.decrypt(text.strip())
        except Exception as exc:  # the vault's own error type; the message names no value
            raise CredentialError(
                "%s is encrypted with ansible-vault and no vault password of this run opens it (%s): %s. "
                "Nothing was generated or changed." % (name, exc, FIX_HINT)
            ) from None
    value = text.rstrip("\n")
    return value or None


def encode(value, vault, encrypt):
    """The text of a secret file: the value encrypted with the run's vault when ``encrypt``, else the value."""
    if encrypt:
        return vault.encrypt(value + "\n").rstrip("\n") + "\n"
    return value + "\n"


def write_file(path, text, replace=False):
    """Write ``text`` to ``path`` atomically, 0600. Without ``replace``, a file created meanwhile by another
    process wins: its text is returned instead of ours (then the caller reads that value)."""
    directory = os.path.dirname(path)
    make_dirs(directory)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if replace:
            os.rename(tmp, path)
            tmp = None
            return text
        try:
            os.link(tmp, path)
        except OSError as exc:
            if exc.errno != errno.EEXIST:
                raise
            return read_text(path)
        return text
    finally:
        if tmp is not None:
            os.unlink(tmp)


def secret_names(store):
    """Names of the secrets in ``store`` (files, hidden ones skipped), sorted."""
    names = []
    if not os.path.isdir(store):
        return names
    for root, dirs, files in os.walk(store):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for filename in files:
            if filename.startswith("."):
                continue
            relative = os.path.relpath(os.path.join(root, filename), store)
            names.append(relative.replace(os.sep, "/"))
    return sorted(names)


def ensure_guard(store):
    """Write ``<store>/.gitignore`` (ignoring everything) if it is not there."""
    guard = os.path.join(store, GUARD_NAME)
    if read_text(guard) != GUARD_TEXT:
        write_file(guard, GUARD_TEXT, replace=True)


def update_guard(store):
    """Keep ``<store>/.gitignore`` (ignoring everything) exactly while the store holds a plaintext secret."""
    guard = os.path.join(store, GUARD_NAME)
    plaintext = False
    for name in secret_names(store):
        text = read_text(os.path.join(store, name))
        if text is not None and not is_encrypted(text):
            plaintext = True
            break
    current = read_text(guard)
    if plaintext and current != GUARD_TEXT:
        write_file(guard, GUARD_TEXT, replace=True)
    elif not plaintext and current == GUARD_TEXT:
        os.unlink(guard)


# --------------------------------------------------------------------------------------------- migration


def plan_migration(legacy, store, vault=None):
    """What moving the store of the old layout ``legacy`` into ``store`` does: ``{"move": [...], "drop": [...]}``
    (drop: the same value is already in ``store``). Raises CredentialError, before anything is moved, when a
    name holds different values in the two places."""
    plan = {"move": [], "drop": []}
    conflicts = []
    for name in secret_names(legacy):
        new_text = read_text(os.path.join(store, name))
        if new_text is None:
            plan["move"].append(name)
            continue
        old_value = decode(read_text(os.path.join(legacy, name)), name, vault)
        if decode(new_text, name, vault) == old_value:
            plan["drop"].append(name)
        else:
            conflicts.append(name)
    if conflicts:
        raise CredentialError(
            "the old store %s and the store %s hold different values for %s: keep the right one of each, delete "
            "the other, and run again (nothing was moved)" % (legacy, store, ", ".join(conflicts))
        )
    return plan


def _prune(directory, stop):
    """Remove empty folders from ``directory`` up to ``stop`` (included)."""
    directory, stop = os.path.abspath(directory), os.path.abspath(stop)
    while _inside(directory, stop):
        try:
            os.rmdir(directory)
        except OSError:
            return
        if directory == stop:
            return
        directory = os.path.dirname(directory)


def apply_migration(legacy, store, plan):
    """Move the planned files (never overwriting one), remove the dropped duplicates, then the emptied old
    folders, its ``credentials`` parent included."""
    for name in plan["move"]:
        source, target = os.path.join(legacy, name), os.path.join(store, name)
        make_dirs(os.path.dirname(target))
        try:
            os.link(source, target)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            write_file(target, read_text(source))
        os.chmod(target, FILE_MODE)
        os.unlink(source)
    for name in plan["drop"]:
        os.unlink(os.path.join(legacy, name))
    guard = os.path.join(legacy, GUARD_NAME)
    if read_text(guard) == GUARD_TEXT:
        os.unlink(guard)
    for root, _dirs, _files in sorted(os.walk(legacy), key=lambda entry: -len(entry[0])):
        _prune(root, legacy)
    _prune(os.path.dirname(legacy), os.path.dirname(legacy))


# ------------------------------------------------------------------------------------------------ the store


def wants_rotation(rotate, name):
    """``rotate`` is a boolean or a list of names."""
    if isinstance(rotate, bool):
        return rotate
    if isinstance(rotate, str):  # from -e: "true", or names separated by commas
        if rotate.strip().lower() in ("true", "yes", "1"):
            return True
        return name in [part.strip() for part in rotate.split(",")]
    return name in (rotate or ())


def refusal(name, store, site=None):
    what = "%s (site %s)" % (name, site) if site else name
    return (
        "the secret %s is not in the credential store %s, but its account already exists on the server: a new "
        "value would lock out whatever uses the current one. Nothing was changed. To fix it: %s; or, to replace the "
        "password on purpose, run with -e wpzo_credentials_rotate=%s (or true for every missing secret)"
        % (what, store, FIX_HINT, name)
    )


class Store:
    """One host's store. ``vault``: the run's vault (None: none); ``encrypt``: auto (when the run has a vault
    password), always or never; ``legacy``: the old-layout folder to migrate from; ``check_mode``: write nothing."""

    def __init__(self, path, vault=None, encrypt="auto", legacy=None, check_mode=False):
        if encrypt not in ENCRYPT_MODES:
            raise CredentialError("encrypt must be one of %s, not %r" % (", ".join(ENCRYPT_MODES), encrypt))
        self.path = os.path.abspath(path)
        self.vault = vault
        self.legacy = legacy
        self.check_mode = check_mode
        can_encrypt = vault is not None and vault.can_encrypt
        if encrypt == "always" and not can_encrypt:
            self.encrypt = None  # refuse any write, below
        else:
            self.encrypt = encrypt != "never" and can_encrypt

    def migrate(self):
        """Move the old-layout store here (not in check mode, which reads it in place instead)."""
        if not self.legacy or self.check_mode or not os.path.isdir(self.legacy):
            return None
        plan = plan_migration(self.legacy, self.path, self.vault)
        apply_migration(self.legacy, self.path, plan)
        update_guard(self.path)
        return plan

    def _read(self, name):
        """``(value, text)`` from the store, else from the unmigrated old store (check mode); (None, None)."""
        places = [self.path]
        if self.check_mode and self.legacy:
            places.append(self.legacy)
        for place in places:
            text = read_text(credential_path(place, name))
            if text is not None:
                value = decode(text, name, self.vault)
                if value is not None:
                    return value, text if place == self.path else None
        return None, None

    def status(self, name, existing=(), rotate=False):
        """``stored``, ``new`` (would be generated) or ``lost`` (missing, and its account exists: refused).
        Reads only; a stored secret the run cannot decrypt raises CredentialError."""
        credential_path(self.path, name)
        if self._read(name)[0] is not None:
            return "stored"
        if name in (existing or ()) and not wants_rotation(rotate, name):
            return "lost"
        return "new"

    def get(self, name, length=32, charset="printable", existing=(), rotate=False, site=None):
        """The stored secret; generated and stored when missing, unless its account exists (refused)."""
        path = credential_path(self.path, name)
        value, text = self._read(name)
        if value is not None:
            if text is not None and self.encrypt and not is_encrypted(text) and not self.check_mode:
                write_file(path, encode(value, self.vault, True), replace=True)
                update_guard(self.path)
            return value
        if name in (existing or ()) and not wants_rotation(rotate, name):
            raise CredentialError(refusal(name, self.path, site))
        if self.check_mode:
            return placeholder(name, length)
        if self.encrypt is None:
            raise CredentialError(
                "%s must be generated, but the store is set to be encrypted (wpzo_credentials_encrypt: always) and "
                "this run has no vault password: give one (--vault-password-file, --vault-id or "
                "ANSIBLE_VAULT_PASSWORD_FILE); nothing was written" % name
            )
        value = generate(length, charset)
        written = write_file(path, encode(value, self.vault, self.encrypt))
        if not self.encrypt:
            ensure_guard(self.path)
        return decode(written, name, self.vault)


def read_or_create(store, name, length=32, charset="printable"):
    """A plaintext store without vault or server checks (kept for callers of earlier versions)."""
    return Store(store, encrypt="never").get(name, length, charset)
