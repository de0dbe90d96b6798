#!/usr/bin/env bash
# The release workflow's check of one native binary on a real host of its kind, as a user gets it:
# the main tarball and the platform package installed into an empty project (optional dependencies
# omitted, so that nothing comes from the registry), then the native backend must load, CommonJS
# must require the package, and `thinnet backends` must find every backend equal to the reference.
#
# usage: release-smoke.sh <folder with thinnet-<version>.tgz> <folder with thinnet-<platform>-<version>.tgz>
set -euo pipefail
main=$(ls "$1"/thinnet-[0-9]*.tgz)
platform=$(ls "$2"/thinnet-*.tgz)
app=$(mktemp -d)
cd "$app"
echo '{ "name": "thinnet-release-smoke", "private": true }' > package.json
npm install --omit=optional --no-audit --no-fund "$main" "$platform"
node --input-type=module -e "
  const { load } = await import('thinnet')
  const tn = await load({ backend: 'native' })
  console.log('native backend loads:', tn.isa, process.platform, process.arch)
"
node -e "const t = require('thinnet'); t.load().then((tn) => { if (tn.backend !== 'native') process.exit(1); console.log('CommonJS require:', tn.backend) })"
npx --no-install thinnet backends
