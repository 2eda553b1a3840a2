# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: credential
author: wpzo.hosting developers (@wpzo)
version_added: 0.1.0
short_description: Generated secrets, stored per host on the controller, vault-encrypted, reused on every run
description:
  - Returns the secret stored under each name in the host's credential store on the controller, generating it
    with a cryptographic random generator on first use.
  - "The store is O(store): by default C(wpzo_credentials_dir), else C(<project>/credentials/<inventory>/<host>)
    for an inventory in C(<project>/inventories/<inventory>/), outside every folder an inventory parser reads
    (C(-i inventories/<inventory>) and C(-i inventories/) parse every file below them). The lookup refuses a store
    inside a folder given with C(-i). Folders are created 0700 and files 0600, whatever the umask."
  - A store of the old layout, C(<inventory dir>/credentials/<host>), is moved to the default store on first use
    (files moved, never regenerated); the lookup refuses when both hold different values under one name.
  - "With a vault password in the run (C(--vault-password-file), C(--vault-id), C(ANSIBLE_VAULT_PASSWORD_FILE)),
    each secret file is encrypted with ansible-vault, as C(ansible-vault encrypt) would (C(ansible-vault view)
    shows one), and plaintext files found are encrypted in place: the store can be committed, and a team or CI
    with the vault password gets the same secrets. Without one the files are plaintext, and the folder gets a
    C(.gitignore) ignoring it all until no plaintext secret is left."
  - A secret the store holds encrypted and the run cannot decrypt fails the task, and so does a missing secret
    whose account exists on the server (O(existing)) unless O(rotate) names it, since a new value would lock out
    what uses the current one.
  - In check mode nothing is written anywhere (no migration, no encryption, no new file, no folder). A missing
    secret gets a placeholder, C(CHECKMODE) and the digest of its name cut to O(length). It is no secret, so a
    diff that shows it says a new secret would be generated there; it is the same in every task of the run, so
    later tasks report what a real run would change.
  - To use a value from a vault the operator already has, give it first, as in C(my_vaulted | default(lookup(...))).
options:
  _terms:
    description:
      - Names of secrets, such as C(mariadb/example_com); letters, digits, C(_.@-) and C(/) between parts, no part
        starting with a dot.
    required: true
    type: list
    elements: str
  length:
    description: Length of a generated secret.
    type: int
    default: 32
  charset:
    description: Characters of a generated secret; V(printable) is all printable ASCII except whitespace.
    type: str
    choices: [printable, alphanumeric]
    default: printable
  store:
    description:
      - Folder of the host's store; defaults to C(wpzo_credentials_dir), else
        C(<project>/credentials/<inventory name>/<inventory_hostname>) (see above).
    type: path
  host:
    description:
      - The inventory host whose store holds the secrets, when it is another host than the one the task runs for
        (a secret two hosts share, such as the password the monitoring host scrapes every server's exporters
        with, lives in the store of the host that owns it); that host's C(wpzo_credentials_dir) or default store.
    type: str
  existing:
    description:
      - Names (of O(_terms)) whose account already exists on the server. Such a name is never generated; when the
        store lacks it, the lookup fails, saying how to fix it, unless O(rotate) names it.
    type: list
    elements: str
    default: []
  status_only:
    description:
      - Return, instead of each secret, V(stored), V(new) (it would be generated) or V(lost) (missing, and named
        in O(existing) but not in O(rotate), so a real lookup would fail). Generates and writes no secret, so a
        task without C(no_log) can list every problem at once; an encrypted secret the run cannot decrypt still
        fails.
    type: bool
    default: false
  site:
    description: The site a secret belongs to, named in error messages.
    type: str
  rotate:
    description:
      - V(true), or a list of names, to generate missing secrets even though their accounts exist (the roles then
        set the new password on the account). Never replaces a stored secret (delete its file first).
    type: raw
    default: false
    vars:
      - name: wpzo_credentials_rotate
  encrypt:
    description:
      - V(auto) encrypts the secrets with ansible-vault when the run has a vault password; V(always) also refuses
        to generate a secret without one (set it in a shared inventory, so no plaintext is ever written);
        V(never) keeps files plaintext (already encrypted ones are still read).
    type: str
    choices: [auto, always, never]
    default: auto
    vars:
      - name: wpzo_credentials_encrypt
  vault_id:
    description:
      - Vault id of the run's vault passwords to encrypt with; by default C(DEFAULT_VAULT_ENCRYPT_IDENTITY), else
        the first one. Any of the run's passwords decrypts.
    type: str
    vars:
      - name: wpzo_credentials_vault_id
notes:
  - "A shared store: set C(wpzo_credentials_encrypt: always) in the inventory, keep the vault password outside the
    repository (C(--vault-password-file)), and commit C(credentials/<inventory>/). See docs/security.md."
"""

EXAMPLES = r"""
- name: Create a database user with a stored password
  community.mysql.mysql_user:
    name: example
    password: "{{ lookup('wpzo.hosting.credential', 'mariadb/example') }}"
  no_log: true

- name: Refuse to replace the password of a user that exists but whose secret is lost
  ansible.builtin.set_fact:
    __password: "{{ lookup('wpzo.hosting.credential', 'mariadb/example', existing=['mariadb/example']) }}"
  no_log: true
"""

RETURN = r"""
_raw:
  description: The secrets, one per name.
  type: list
  elements: str
"""

from ansible import constants as C
from ansible.errors import AnsibleLookupError
from ansible.module_utils.common.text.converters import to_text
from ansible.parsing.vault import VaultLib, VaultSecretsContext, match_encrypt_secret
from ansible.plugins.lookup import LookupBase
from ansible.utils.display import Display
from ansible_collections.wpzo.hosting.plugins.module_utils.credentials import (
    CredentialError,
    Store,
    default_store,
    inventory_parses,
)

display = Display()


class RunVault:
    """The vault passwords of this run (``--vault-password-file``, ``--vault-id``, ...), for the store."""

    def __init__(self, secrets, vault_id=None):
        self.secrets = list(secrets or [])
        self.has_secrets = bool(self.secrets)
        self._lib = VaultLib(self.secrets)
        self._encrypt_with = None
        if self.secrets:
            try:
                self._encrypt_with = match_encrypt_secret(self.secrets, vault_id or C.DEFAULT_VAULT_ENCRYPT_IDENTITY)
            except Exception:  # no such vault id: fall back to the first password
                self._encrypt_with = match_encrypt_secret(self.secrets)
        self.can_encrypt = bool(self._encrypt_with)

    def encrypt(self, text):
        vault_id, secret = self._encrypt_with
        return to_text(self._lib.encrypt(text, secret=secret, vault_id=vault_id))

    def decrypt(self, vaulttext):
        return to_text(self._lib.decrypt(vaulttext))


def run_secrets(loader):
    secrets = getattr(getattr(loader, "_vault", None), "secrets", None)
    if not secrets:
        context = VaultSecretsContext.current(optional=True)
        secrets = context.secrets if context else []
    return secrets


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        variables = variables or {}
        self.set_options(var_options=variables, direct=kwargs)
        store = self.get_option("store")
        legacy = None
        try:
            if not store:
                store, legacy = self._default_store(variables)
            parsed_by = inventory_parses(store, variables.get("ansible_inventory_sources"))
            if parsed_by:
                raise CredentialError(
                    "it is inside the inventory folder %s, whose every file Ansible parses (printing secrets in "
                    "warnings, making hosts of them): move it out and set wpzo_credentials_dir" % parsed_by
                )
            vault = RunVault(run_secrets(self._loader), self._value("vault_id"))
            credentials = Store(
                store,
                vault=vault,
                encrypt=self._value("encrypt"),
                legacy=legacy,
                check_mode=bool(variables.get("ansible_check_mode", False)),
            )
            moved = credentials.migrate()
            if moved:
                display.warning(
                    "credential store: moved %d secrets from %s to %s (outside the inventory, which parsed them "
                    "and printed some in its warnings; replace those with wpzo_credentials_rotate, docs/security.md)"
                    % (len(moved["move"]) + len(moved["drop"]), legacy, store)
                )
            existing = self.get_option("existing") or []
            if self.get_option("status_only"):
                return [credentials.status(term, existing, self._value("rotate")) for term in terms]
            return [
                credentials.get(
                    term,
                    self.get_option("length"),
                    self.get_option("charset"),
                    existing=existing,
                    rotate=self._value("rotate"),
                    site=self.get_option("site"),
                )
                for term in terms
            ]
        except (OSError, ValueError) as exc:
            raise AnsibleLookupError(
                "credential store %s: %s" % (store, exc) if store else "credentials: %s" % exc
            ) from None

    def _value(self, option):
        value = self.get_option(option)
        return self._templar.template(value) if isinstance(value, str) and "{" in value else value

    def _default_store(self, variables):
        host = self.get_option("host")
        if host:
            hostvars = variables.get("hostvars", {})
            if host not in hostvars:
                raise CredentialError("host %s is not in the inventory" % host)
            variables = {
                "inventory_hostname": host,
                "inventory_dir": hostvars[host].get("inventory_dir"),
                "wpzo_credentials_dir": hostvars[host].get("wpzo_credentials_dir"),
            }
        if variables.get("wpzo_credentials_dir"):
            return self._templar.template(variables["wpzo_credentials_dir"]), None
        return default_store(variables.get("inventory_dir"), variables.get("inventory_hostname", "localhost"))
