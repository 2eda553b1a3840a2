"""Create a container in Azurite and print a container SAS URL for it (what an Azure operator hands the backups
role as an azure target's sas_url): python3 azurite_sas.py BLOB_URL CONTAINER.

Azurite's development account and key are its documented, public defaults, not a secret."""

import base64
import hashlib
import hmac
import sys
import urllib.error
import urllib.parse
import urllib.request

ACCOUNT = "devstoreaccount1"
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
VERSION = "2020-02-10"
START, EXPIRY = "2020-01-01T00:00:00Z", "2099-01-01T00:00:00Z"
PROTOCOLS = "http,https"


def sign(fields):
    digest = hmac.new(base64.b64decode(KEY), "\n".join(fields).encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def account_sas():
    permissions, services, resources = "rwdlac", "b", "sco"
    signature = sign([ACCOUNT, permissions, services, resources, START, EXPIRY, "", PROTOCOLS, VERSION, ""])
    return urllib.parse.urlencode({
        "sv": VERSION, "ss": services, "srt": resources, "sp": permissions, "st": START, "se": EXPIRY,
        "spr": PROTOCOLS, "sig": signature,
    })  # fmt: skip


def container_sas(container):
    permissions = "racwdl"
    resource = "/blob/%s/%s" % (ACCOUNT, container)
    # Service SAS string to sign of version 2020-02-10: identifier, IP, snapshot time and the five rsc* fields empty.
    fields = [permissions, START, EXPIRY, resource, "", "", PROTOCOLS, VERSION, "c", "", "", "", "", "", ""]
    return urllib.parse.urlencode({
        "sv": VERSION, "sp": permissions, "st": START, "se": EXPIRY, "sr": "c", "spr": PROTOCOLS,
        "sig": sign(fields),
    })  # fmt: skip


def main(blob_url, container):
    base = "%s/%s/%s" % (blob_url.rstrip("/"), ACCOUNT, container)
    # The emulator's http URL, from the scenario.
    request = urllib.request.Request("%s?restype=container&%s" % (base, account_sas()), method="PUT")  # noqa: S310
    try:
        urllib.request.urlopen(request, timeout=30)  # noqa: S310
    except urllib.error.HTTPError as error:
        if error.code != 409:  # the container exists already
            raise
    print("%s?%s" % (base, container_sas(container)))


if __name__ == "__main__":
    main(*sys.argv[1:])
