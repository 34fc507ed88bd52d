#!/usr/bin/env bash
# Builds the release binary and the container image from it, with no registry and no daemon:
#   bash deploy/container/build.sh [TAG]        -> target/image/oci/ and target/image/image.tar
# Then: docker load -i target/image/image.tar, or
#   skopeo copy oci-archive:target/image/image.tar docker://ACCOUNT.dkr.ecr.REGION.amazonaws.com/egresswatch:TAG
# For Fargate ARM64 build on (or cross-compile for) aarch64: the image takes the binary's
# architecture and the libraries of the machine that built it.
set -euo pipefail
cd "$(dirname "$0")/../.."
tag="${1:-egresswatch:latest}"
target_dir="${CARGO_TARGET_DIR:-target}"
cargo build --release --locked --bin egresswatch
python3 deploy/container/build_image.py --binary "$target_dir/release/egresswatch" --out target/image --tag "$tag"
