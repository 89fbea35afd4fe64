# Stand-in for quay.io/prometheus/alertmanager: the pinned Alertmanager built
# from the Go module proxy (hack/tools/build.sh), with the upstream image's
# contract: entrypoint /bin/alertmanager, user nobody (65534), data in
# /alertmanager, port 9093.
ARG BASE_IMAGE=localhost/shipyard/debian:bookworm
FROM ${BASE_IMAGE}
COPY alertmanager amtool /bin/
COPY alertmanager.yml /etc/alertmanager/alertmanager.yml
RUN mkdir -p /alertmanager && chown -R 65534:65534 /alertmanager /etc/alertmanager
LABEL org.shipyard.standin="quay.io/prometheus/alertmanager (built from the Go module proxy)"
USER 65534
WORKDIR /alertmanager
EXPOSE 9093
VOLUME /alertmanager
ENTRYPOINT ["/bin/alertmanager"]
CMD ["--config.file=/etc/alertmanager/alertmanager.yml", "--storage.path=/alertmanager"]
