# Stand-in for docker.io/rclone/rclone where no registry answers: Debian's
# rclone (1.60.1, the tag it stands in for) with that image's contract:
# entrypoint rclone, a shell for scripts, CA certificates for https endpoints.
# The backup pods run it as the PostgreSQL user with a read-only root, HOME and
# the config file under /tmp.
ARG BASE_IMAGE=localhost/shipyard/debian:bookworm
FROM ${BASE_IMAGE}
ARG SOURCES_LIST
RUN printf '%s\n' "$SOURCES_LIST" >/etc/apt/sources.list \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends rclone ca-certificates \
 && apt-get clean && rm -rf /var/lib/apt/lists/*
LABEL org.shipyard.standin="docker.io/rclone/rclone (Debian rclone)"
WORKDIR /data
ENTRYPOINT ["rclone"]
