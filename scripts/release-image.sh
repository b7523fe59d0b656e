#!/usr/bin/env bash
# Release workflow, one platform: build the action's image for PLATFORM on a runner of that
# architecture and push it to ghcr.io/<repo> by digest only (no tag: release-publish.sh tags
# the multi-platform image). Writes `digest=sha256:...` to $GITHUB_OUTPUT.
# Environment: GHCR_TOKEN, VERSION, GITHUB_REPOSITORY, GITHUB_ACTOR, GITHUB_OUTPUT.
set -euo pipefail
platform=$1
image="ghcr.io/${GITHUB_REPOSITORY,,}"
printf '%s' "$GHCR_TOKEN" | docker login ghcr.io --username "$GITHUB_ACTOR" --password-stdin
docker buildx create --use --name scar-release >/dev/null
docker buildx build --platform "$platform" --provenance=false \
    --label "org.opencontainers.image.source=https://github.com/$GITHUB_REPOSITORY" \
    --label "org.opencontainers.image.version=$VERSION" \
    --output "type=image,name=$image,push-by-digest=true,name-canonical=true,push=true" \
    --metadata-file metadata.json .
digest=$(python3 -c 'import json; print(json.load(open("metadata.json"))["containerimage.digest"])')
[[ $digest =~ ^sha256:[0-9a-f]{64}$ ]] || { echo "no digest in metadata.json" >&2; exit 1; }
echo "digest=$digest" >> "$GITHUB_OUTPUT"
echo "pushed $image@$digest ($platform)"
