# Stand-in for registry.k8s.io/coredns/coredns, the local cluster's DNS: CoreDNS
# built from the Go module proxy with the plugins the cluster needs (no
# forward: no query leaves the machine). Entrypoint /coredns, user 65532.
FROM scratch
COPY coredns /coredns
LABEL org.shipyard.standin="registry.k8s.io/coredns/coredns (built from the Go module proxy)"
USER 65532
EXPOSE 53 53/udp
ENTRYPOINT ["/coredns"]
