# Stand-in for docker.io/library/postgres where no registry answers: Debian's
# PostgreSQL with the official image's contract. Entrypoint docker-entrypoint.sh
# and CMD postgres; POSTGRES_USER, POSTGRES_PASSWORD(_FILE), POSTGRES_DB,
# POSTGRES_INITDB_ARGS, POSTGRES_HOST_AUTH_METHOD, PGDATA (default
# /var/lib/postgresql/data); /docker-entrypoint-initdb.d; port 5432; user
# postgres (999), and any other UID through nss_wrapper, as upstream does.
# Debian 12 ships PostgreSQL 15: the major version differs from the tag it
# stands in for, which the label says.
# The package's own cluster (pg_dropcluster) and apt's downloads (apt-get
# clean) are dropped: 180 MB that every node would unpack for nothing.
ARG BASE_IMAGE=localhost/shipyard/debian:bookworm
FROM ${BASE_IMAGE}
ARG SOURCES_LIST
RUN printf '%s\n' "$SOURCES_LIST" >/etc/apt/sources.list \
 && groupadd -r -g 999 postgres && useradd -r -u 999 -g postgres -d /var/lib/postgresql -s /bin/bash postgres \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-15 libnss-wrapper \
 && pg_dropcluster 15 main \
 && apt-get clean && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /var/lib/postgresql/data /var/run/postgresql /docker-entrypoint-initdb.d \
 && chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql \
 && chmod 3777 /var/run/postgresql && chmod 1777 /var/lib/postgresql/data
COPY postgres-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PGDATA=/var/lib/postgresql/data
LABEL org.shipyard.standin="docker.io/library/postgres (Debian postgresql-15)"
VOLUME /var/lib/postgresql/data
USER postgres
EXPOSE 5432
STOPSIGNAL SIGINT
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["postgres"]
