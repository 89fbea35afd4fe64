# Stand-in for quay.io/prometheus/prometheus: the pinned Prometheus built from
# the Go module proxy (hack/tools/build.sh), with the upstream image's contract:
# entrypoint /bin/prometheus, user nobody (65534), data in /prometheus, port 9090.
ARG BASE_IMAGE=localhost/shipyard/debian:bookworm
FROM ${BASE_IMAGE}
COPY prometheus promtool /bin/
COPY prometheus.yml /etc/prometheus/prometheus.yml
RUN mkdir -p /prometheus && chown -R 65534:65534 /prometheus /etc/prometheus
LABEL org.shipyard.standin="quay.io/prometheus/prometheus (built from the Go module proxy)"
USER 65534
WORKDIR /prometheus
EXPOSE 9090
VOLUME /prometheus
ENTRYPOINT ["/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]
