#!/usr/bin/env bash
# Print k8s_tools_checksums for the pinned versions (roles/k8s_tools/defaults),
# from the publishers' checksum files. Run where the internet is reachable,
# review, and paste the output into roles/k8s_tools/defaults/main.yml or an
# inventory. Architectures: amd64 and arm64.
set -euo pipefail
cd "$(dirname "$0")/.."
defaults=roles/k8s_tools/defaults/main.yml
ver() { awk -v k="k8s_tools_$1_version:" '$1 == k { print $2 }' "$defaults"; }
kubectl=$(ver kubectl) kind=$(ver kind) helm=$(ver helm)
sum() { curl -fsSL --retry 3 "$1" | awk '{ print $1; exit }'; }
echo "k8s_tools_checksums:"
echo "  kubectl:"; echo "    $kubectl:"
for arch in amd64 arm64; do echo "      $arch: $(sum "https://dl.k8s.io/release/$kubectl/bin/linux/$arch/kubectl.sha256")"; done
echo "  kind:"; echo "    $kind:"
for arch in amd64 arm64; do echo "      $arch: $(sum "https://github.com/kubernetes-sigs/kind/releases/download/$kind/kind-linux-$arch.sha256sum")"; done
echo "  helm:"; echo "    $helm:"
for arch in amd64 arm64; do echo "      $arch: $(sum "https://get.helm.sh/helm-$helm-linux-$arch.tar.gz.sha256sum")"; done
