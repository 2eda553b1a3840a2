#!/usr/bin/env bash
# Build a release-like WordPress core archive from Debian's `wordpress` package, for tests where
# wordpress.org cannot be reached:
#
#   tools/wordpress-archive.sh OUT.tar.gz        (needs: apt-get install -y wordpress)
#
# The archive has one top directory `wordpress/` like the official release. Debian's symbolic links to
# system files (getID3, underscore.js, the CA bundle, ...) are dereferenced; Debian's glue (its
# wp-config.php reading /etc/wordpress, the .htaccess link) and the translations Debian ships in
# wp-content/languages are left out. Output is reproducible (sorted, fixed owner and times, gzip -n).
# Prints the version (from wp-includes/version.php) and checksums in the form the module takes:
#   version=6.1.9
#   sha256:<hex>
#   sha1:<hex>
# Override the source tree with WORDPRESS_SRC=/path/to/wordpress.
set -euo pipefail

if [ "$#" -ne 1 ] || [ -z "$1" ]; then
  echo "usage: $0 OUT.tar.gz" >&2
  exit 2
fi
out="$1"
src="${WORDPRESS_SRC:-/usr/share/wordpress}"
version_file="$src/wp-includes/version.php"
if [ ! -f "$version_file" ]; then
  echo "$0: no WordPress in $src (install Debian's package: apt-get install -y wordpress)" >&2
  exit 1
fi
version="$(sed -n "s/^\$wp_version = '\([^']*\)';.*/\1/p" "$version_file")"
if [ -z "$version" ]; then
  echo "$0: cannot read \$wp_version from $version_file" >&2
  exit 1
fi

mkdir -p "$(dirname "$out")"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir "$work/wordpress"
# -h dereferences the links; a dangling one makes tar fail, which is what we want.
tar -C "$src" -h \
  --exclude=./wp-config.php \
  --exclude=./.htaccess \
  --exclude=./wp-content/languages \
  -cf - . | tar -C "$work/wordpress" -xf -
if find "$work/wordpress" -type l | grep -q .; then
  echo "$0: symbolic links left in the archive tree" >&2
  exit 1
fi
chmod -R u=rwX,go=rX "$work/wordpress"

mtime="$(stat -c %Y "$version_file")"
tar -C "$work" --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$mtime" -cf - wordpress \
  | gzip -n -9 >"$out.tmp"
mv "$out.tmp" "$out"

echo "version=$version"
echo "sha256:$(sha256sum "$out" | cut -d' ' -f1)"
echo "sha1:$(sha1sum "$out" | cut -d' ' -f1)"
