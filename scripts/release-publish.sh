#!/usr/bin/env bash
# Release workflow, last job: merge the two platforms' images into one tagged multi-platform
# image, then publish the action on a release commit (off main) whose action.yml pins that
# image by digest, tagged v$VERSION with v<major> moved to it, and a GitHub release.
# Environment: GHCR_TOKEN, GH_TOKEN, VERSION, AMD64_DIGEST, ARM64_DIGEST, GITHUB_REPOSITORY,
# GITHUB_ACTOR.
set -euo pipefail
[[ $VERSION =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "version '$VERSION' is not X.Y.Z" >&2; exit 1; }
image="ghcr.io/${GITHUB_REPOSITORY,,}"
printf '%s' "$GHCR_TOKEN" | docker login ghcr.io --username "$GITHUB_ACTOR" --password-stdin
docker buildx imagetools create --tag "$image:$VERSION" \
    "$image@$AMD64_DIGEST" "$image@$ARM64_DIGEST"
digest=$(docker buildx imagetools inspect "$image:$VERSION" --format '{{json .Manifest}}' \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["digest"])')
[[ $digest =~ ^sha256:[0-9a-f]{64}$ ]] || { echo "no digest for $image:$VERSION" >&2; exit 1; }

grep -q '^  image: Dockerfile$' action.yml || { echo "action.yml has no 'image: Dockerfile'" >&2; exit 1; }
sed -i "s|^  image: Dockerfile\$|  image: docker://$image@$digest|" action.yml
git config user.name "github-actions[bot]"
git config user.email "41898282+github-actions[bot]@users.noreply.github.com"
git commit --quiet -m "Release $VERSION: the action runs $image@$digest" action.yml
major="v${VERSION%%.*}"
git tag "v$VERSION"
git tag --force "$major"
remote="https://x-access-token:${GH_TOKEN}@github.com/${GITHUB_REPOSITORY}.git"
git push --quiet "$remote" "refs/tags/v$VERSION" "+refs/tags/$major"
gh release create "v$VERSION" --verify-tag --generate-notes --title "v$VERSION"
echo "released v$VERSION ($major): $image@$digest"
