#!/usr/bin/env bash
# Make sure a Docker engine answers. Where none does and we are root on
# Debian, install Debian's docker.io and start dockerd (under systemd when it
# is PID 1, else in the background with its log in /var/log/dockerd.log).
# Anywhere else, say what is missing and stop.
set -euo pipefail

log() { printf '[docker] %s\n' "$*" >&2; }
die() { printf '[docker] ERROR: %s\n' "$*" >&2; exit 1; }

engine_up() { docker info >/dev/null 2>&1; }

if engine_up; then
  exit 0
fi

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  die "no Docker engine answers on ${DOCKER_HOST:-unix:///var/run/docker.sock}. Install Docker Engine (https://docs.docker.com/engine/install/), start it, and make sure $(id -un) may use it (the docker group). shipyard installs it by itself only as root on Debian or Ubuntu."
fi

if ! command -v dockerd >/dev/null; then
  log "installing Debian's docker.io"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || die "apt-get update failed"
  apt-get install -y -qq docker.io >/dev/null || die "apt-get install docker.io failed"
fi

if [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ]; then
  log "starting docker.service"
  systemctl enable --now docker.service
else
  log "starting dockerd in the background (log: /var/log/dockerd.log)"
  nohup dockerd >>/var/log/dockerd.log 2>&1 &
fi

for _ in $(seq 1 60); do
  if engine_up; then
    log "engine $(docker version --format '{{.Server.Version}}') is up"
    exit 0
  fi
  sleep 1
done
die "dockerd did not answer within 60s; see /var/log/dockerd.log"
