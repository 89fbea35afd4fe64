# The pod sandbox image of the local cluster's node: Kubernetes' own pause.c
# (from the pinned k8s.io/kubernetes module), compiled statically here.
FROM scratch
COPY pause /pause
LABEL org.shipyard.standin="registry.k8s.io/pause (compiled from build/pause/linux/pause.c)"
USER 65535:65535
ENTRYPOINT ["/pause"]
