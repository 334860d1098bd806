#!/usr/bin/env bash
# Re-vendor axe-core (the accessibility engine the browser tests inject into every page) from the npm
# registry with npm itself, pinned by version and checked against the registry's sha512 integrity.
# The result, tests/e2e/vendor/axe.min.js, is committed: the browser suite then needs no network and
# no Node at test time. To upgrade: change VERSION and INTEGRITY (`npm view axe-core@X dist.integrity`).
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=4.14.1
INTEGRITY="sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ=="
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "axe-core@$VERSION" >/dev/null)
tgz="$work/axe-core-$VERSION.tgz"
got="sha512-$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)"
[ "$got" = "$INTEGRITY" ] || { echo "integrity mismatch: $got" >&2; exit 1; }
tar -xzf "$tgz" -C "$work" package/axe.min.js package/LICENSE
mkdir -p tests/e2e/vendor
cp "$work/package/axe.min.js" tests/e2e/vendor/axe.min.js
cp "$work/package/LICENSE" tests/e2e/vendor/axe-core-LICENSE.txt
echo "axe-core $VERSION -> tests/e2e/vendor/axe.min.js ($(wc -c < tests/e2e/vendor/axe.min.js) bytes)"
