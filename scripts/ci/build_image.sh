#!/usr/bin/env bash
# test -> master: build the API image (deploy/Dockerfile, runtime stage) tagged with the
# champion's version and the commit, and push it. Usage: build_image.sh IMAGE MODEL VERSION
#   e.g. build_image.sh ghcr.io/acme/volcast volcast-eurusd-1h 7
#   -> ghcr.io/acme/volcast:volcast-eurusd-1h-v7 and ghcr.io/acme/volcast:sha-<commit>
# VOLCAST_PUSH=0 builds without pushing.
# shellcheck source=scripts/ci/common.sh
source "$(dirname "$0")/common.sh"
image="${1:?image repository}"; image="${image,,}"  # registries want lower case
model="${2:?registered model name}" version="${3:?champion version}"
[[ "$version" =~ ^[0-9]+$ ]] || { echo "build_image: version must be a number, got $version" >&2; exit 2; }
commit="$(git rev-parse --short=12 HEAD)"
tags=("$image:$model-v$version" "$image:sha-$commit")
docker build -f deploy/Dockerfile --target runtime \
  --label "org.opencontainers.image.revision=$commit" \
  --label "io.volcast.model=$model" --label "io.volcast.model-version=$version" \
  "${tags[@]/#/--tag=}" .
if [ "${VOLCAST_PUSH:-1}" = 1 ]; then
  for tag in "${tags[@]}"; do docker push "$tag"; done
fi
output image "${tags[0]}"
