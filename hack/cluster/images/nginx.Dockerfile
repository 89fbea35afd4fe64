# Stand-in for docker.io/nginxinc/nginx-unprivileged where no registry answers:
# Debian's nginx with that image's contract: user 101, listens where its
# configuration says (8080 by default), pid and temporary files under /tmp,
# /etc/nginx/mime.types, static files in /usr/share/nginx/html, CMD nginx in
# the foreground. The frontend passes its own configuration file, so no
# entrypoint script is needed. Debian 12 ships nginx 1.22: the version differs
# from the tag it stands in for, which the label says.
ARG BASE_IMAGE=localhost/shipyard/debian:bookworm
FROM ${BASE_IMAGE}
ARG SOURCES_LIST
RUN printf '%s\n' "$SOURCES_LIST" >/etc/apt/sources.list \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nginx-light \
 && apt-get clean && rm -rf /var/lib/apt/lists/* /etc/nginx/sites-enabled/* /var/www/html \
 && mkdir -p /usr/share/nginx/html \
 && sed -i 's,^pid .*,pid /tmp/nginx.pid;,; /^user /d' /etc/nginx/nginx.conf \
 && ln -sf /dev/stdout /var/log/nginx/access.log && ln -sf /dev/stderr /var/log/nginx/error.log
LABEL org.shipyard.standin="docker.io/nginxinc/nginx-unprivileged (Debian nginx-light)"
USER 101
EXPOSE 8080
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]
