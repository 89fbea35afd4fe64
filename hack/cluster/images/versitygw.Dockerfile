# Stand-in for docker.io/versity/versitygw: the pinned S3 gateway built from the
# Go module proxy (hack/tools/build.sh), entrypoint versitygw, port 7070. Only
# the tests run it, as the S3-compatible bucket of the backups
# (tests/cluster/test_backup_bucket.py); no role deploys it.
ARG BASE_IMAGE=localhost/shipyard/debian:bookworm
FROM ${BASE_IMAGE}
COPY versitygw /usr/local/bin/
LABEL org.shipyard.standin="docker.io/versity/versitygw (built from the Go module proxy)"
USER 65534
EXPOSE 7070
ENTRYPOINT ["/usr/local/bin/versitygw"]
