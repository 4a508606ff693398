#!/usr/bin/env bash
# macOS: dist/Photoseek.app and dist/Photoseek-<version>.dmg from packaging/photoseek.spec. Run on a Mac
# (Apple silicon or Intel; the result runs on the architecture it was built on) with Python 3.11.
#
#   packaging/macos/build-dmg.sh
#   PHOTOSEEK_CODESIGN_IDENTITY="Developer ID Application: ..." packaging/macos/build-dmg.sh   # to sign
#
# PyPI's and PyTorch's macOS torch builds are CPU (+ Apple GPU) builds; the CPU index is used so that all
# three platforms freeze the same torch release.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "$(uname -s)" = Darwin ] || { echo "build-dmg.sh runs on macOS only" >&2; exit 2; }

[ -x "${PHOTOSEEK_BUILD_VENV:-build/pkgvenv}/bin/python" ] || bash packaging/build-env.sh --release
bash packaging/build-bundle.sh          # dist/photoseek/ and, through BUNDLE in the spec, dist/Photoseek.app

APP=dist/Photoseek.app
VERSION=$(/usr/libexec/PlistBuddy -c 'Print :CFBundleShortVersionString' "$APP/Contents/Info.plist")
"$APP/Contents/MacOS/photoseek" --self-test

if [ -n "${PHOTOSEEK_CODESIGN_IDENTITY:-}" ]; then
  # Hardened runtime is required for notarization; torch's JIT-free inference needs no extra entitlements.
  codesign --force --deep --options runtime --timestamp --sign "$PHOTOSEEK_CODESIGN_IDENTITY" "$APP"
  codesign --verify --strict --verbose=2 "$APP"
fi

STAGING=build/dmg
rm -rf "$STAGING"
mkdir -p "$STAGING"
cp -R "$APP" "$STAGING/"
ln -s /Applications "$STAGING/Applications"    # drag-to-install
DMG="dist/Photoseek-$VERSION.dmg"
rm -f "$DMG"
# ULMO (LZMA) is the smallest format and opens on macOS 10.15 and later; the app needs 12.0 anyway.
hdiutil create -volname "Photoseek $VERSION" -srcfolder "$STAGING" -fs HFS+ -format ULMO -ov "$DMG"
hdiutil verify "$DMG"
if [ -n "${PHOTOSEEK_CODESIGN_IDENTITY:-}" ]; then
  codesign --sign "$PHOTOSEEK_CODESIGN_IDENTITY" --timestamp "$DMG"
  if [ -n "${PHOTOSEEK_NOTARY_PROFILE:-}" ]; then   # a profile saved with `xcrun notarytool store-credentials`
    xcrun notarytool submit "$DMG" --keychain-profile "$PHOTOSEEK_NOTARY_PROFILE" --wait
    xcrun stapler staple "$DMG"
  fi
fi
echo "built $DMG ($(du -h "$DMG" | cut -f1))"
