#!/usr/bin/env bash
# Build dist/photoseek_<version>_<arch>.deb from the bundle dist/photoseek/ (built first if missing).
#
#   packaging/linux/build-deb.sh
#
# Layout: the bundle in /opt/photoseek, /usr/bin/photoseek -> /opt/photoseek/photoseek, the desktop entry,
# AppStream metainfo and hicolor icons under /usr/share. No maintainer scripts: Debian's triggers refresh
# the icon cache and the desktop/MIME databases when files land in those folders.
# PHOTOSEEK_DEB_COMPRESSION (default xz) and PHOTOSEEK_DEB_LEVEL (default 9) choose dpkg-deb's compressor.
set -euo pipefail
cd "$(dirname "$0")/../.."
APP_ID=io.github.photoseek.Photoseek
ICON_SIZES="16 22 24 32 48 64 128 256 512"
[ -x dist/photoseek/photoseek ] || bash packaging/build-bundle.sh

started=$(date +%s)
VERSION=$(dist/photoseek/photoseek --version | awk '{print $2}')
ARCH=$(dpkg --print-architecture)
ROOT=build/deb/root
rm -rf "$ROOT"
mkdir -p "$ROOT/DEBIAN" "$ROOT/opt" "$ROOT/usr/bin" "$ROOT/usr/share/applications" \
    "$ROOT/usr/share/metainfo" "$ROOT/usr/share/doc/photoseek"

cp -a dist/photoseek "$ROOT/opt/photoseek"
# A link to a library the spec dropped would install as a dangling link (lintian: broken symlink).
find "$ROOT/opt/photoseek" -xtype l -print -delete | sed 's/^/removed dangling link: /'
chmod -R u+rwX,go+rX,go-w "$ROOT/opt/photoseek"
ln -s /opt/photoseek/photoseek "$ROOT/usr/bin/photoseek"
install -m 644 "resources/$APP_ID.desktop" "$ROOT/usr/share/applications/"
install -m 644 "resources/$APP_ID.metainfo.xml" "$ROOT/usr/share/metainfo/"
for size in $ICON_SIZES; do
  install -D -m 644 "icons/app/png/photoseek-$size.png" \
      "$ROOT/usr/share/icons/hicolor/${size}x${size}/apps/$APP_ID.png"
done
install -D -m 644 icons/app/photoseek.svg "$ROOT/usr/share/icons/hicolor/scalable/apps/$APP_ID.svg"
install -m 644 packaging/linux/copyright "$ROOT/usr/share/doc/photoseek/copyright"

DEPENDS=$(python3 packaging/linux/deb_depends.py "$ROOT/opt/photoseek")
INSTALLED_SIZE=$(du -sk --exclude=DEBIAN "$ROOT" | cut -f1)
sed -e "s/@VERSION@/$VERSION/" -e "s/@ARCH@/$ARCH/" -e "s/@INSTALLED_SIZE@/$INSTALLED_SIZE/" \
    -e "s/@DEPENDS@/$DEPENDS/" packaging/linux/control.in > "$ROOT/DEBIAN/control"
(cd "$ROOT" && find . -path ./DEBIAN -prune -o -type f -print0 | sort -z | xargs -0 md5sum \
    | sed 's# \./# #' > DEBIAN/md5sums)

DEB="dist/photoseek_${VERSION}_${ARCH}.deb"
mkdir -p dist
rm -f "$DEB"
dpkg-deb --root-owner-group -Z"${PHOTOSEEK_DEB_COMPRESSION:-xz}" -z"${PHOTOSEEK_DEB_LEVEL:-9}" \
    --build "$ROOT" "$DEB"
echo "built $DEB in $(( $(date +%s) - started )) s: $(du -h "$DEB" | cut -f1) download," \
     "$(( INSTALLED_SIZE / 1024 )) MiB installed"
echo "Depends: $DEPENDS"
