# The real node of the local cluster: Debian's containerd, runc and CNI plugins,
# iptables and ipset for kube-proxy and kube-router, openssl for the cluster's
# PKI. The Kubernetes binaries are not in the image: they are the pinned,
# cached ones of hack/sandbox/build.sh, mounted read-only at /opt/shipyard/bin,
# so a version bump needs no image rebuild. Built FROM a local debootstrap
# image (hack/images/build.sh).
ARG BASE_IMAGE=localhost/shipyard/debian:bookworm
FROM ${BASE_IMAGE}
ARG SOURCES_LIST
RUN printf '%s\n' "$SOURCES_LIST" >/etc/apt/sources.list \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      containerd runc containernetworking-plugins iptables ipset conntrack \
      iproute2 procps openssl util-linux mount tini ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && update-alternatives --set iptables /usr/sbin/iptables-legacy \
 && update-alternatives --set ip6tables /usr/sbin/ip6tables-legacy
COPY node-entrypoint.sh /usr/local/bin/shipyard-node
COPY kwok-stages.yaml coredns.yaml /etc/shipyard/
ENV PATH=/opt/shipyard/bin:/opt/shipyard/tools:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "-g", "--", "/usr/local/bin/shipyard-node"]
