#!/bin/sh
# Refreshes the NHS.UK design system files that dsr serves under /assets/
# from the npm registry: nhsuk-frontend's compiled CSS and JavaScript and its
# images (icons, logos, favicons). They are embedded in the binary
# (internal/web/assets.go), so a refresh is this script, then a rebuild.
#
#   scripts/update-nhsuk-frontend.sh          # newest 10.x
#   scripts/update-nhsuk-frontend.sh 10.6.1   # a given version
#
# Needs npm (only to fetch the package) and tar. Nothing is installed.
set -eu

version="${1:-10}"
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/internal/web/assets"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

(cd "$work" && npm pack --silent "nhsuk-frontend@$version" >/dev/null)
tar -xzf "$work"/nhsuk-frontend-*.tgz -C "$work"
pkg="$work/package"
got="$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$pkg/package.json")"
licence="$(sed -n 's/^  "license": "\(.*\)",$/\1/p' "$pkg/package.json")"
if [ "$licence" != "MIT" ]; then
	echo "nhsuk-frontend $got is licensed '$licence', not MIT: check it before vendoring" >&2
	exit 1
fi

rm -rf "$dest/images"
mkdir -p "$dest/images"
cp "$pkg/dist/nhsuk/nhsuk-frontend.min.css" "$dest/nhsuk-frontend.min.css"
cp "$pkg/dist/nhsuk/nhsuk-frontend.min.js" "$dest/nhsuk-frontend.min.js"
cp "$pkg"/dist/nhsuk/assets/images/* "$dest/images/"
# The CSS asks for its icons at /assets/images/…, which is where dsr serves them.
echo "$got" >"$dest/NHSUK_FRONTEND_VERSION"

# The package states its licence (MIT) in package.json and README but ships
# no licence file, so keep the licence text beside the files.
cat >"$dest/LICENSE" <<LICENCE
nhsuk-frontend $got (https://github.com/nhsuk/nhsuk-frontend), vendored by
scripts/update-nhsuk-frontend.sh from the npm registry.

The codebase is released under the MIT Licence, unless stated otherwise
(nhsuk-frontend's README, "Licence"). The documentation is © NHS England
under the Open Government Licence 3.0.

The MIT License (MIT)

Copyright (c) NHS England

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in
all copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN
THE SOFTWARE.
LICENCE
echo "nhsuk-frontend $got vendored into internal/web/assets"
