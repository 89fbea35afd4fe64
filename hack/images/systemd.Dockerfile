# A Debian or Ubuntu host for Molecule: systemd as PID 1, so roles manage
# services the way they do on a real machine, and sshd, so a scenario can reach
# it as a VM is reached (the remote scenario). Built FROM a local debootstrap
# image (hack/images/build.sh), with its distribution's sources.list.
# The SSH host keys are made at build time, so every container of one build
# shares them: a test image only; nobody can log in until a test adds a key.
ARG BASE_IMAGE=localhost/shipyard/debian:bookworm
FROM ${BASE_IMAGE}
ARG SOURCES_LIST
RUN printf '%s\n' "$SOURCES_LIST" >/etc/apt/sources.list \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      systemd systemd-sysv dbus sudo procps iproute2 kmod curl gnupg openssh-server \
 && rm -rf /var/lib/apt/lists/* \
 && find /etc/systemd/system /lib/systemd/system -path '*.wants/*' \
      \( -name '*getty*' -o -name '*udev*' -o -name 'systemd-remount-fs*' \) -delete
STOPSIGNAL SIGRTMIN+3
CMD ["/lib/systemd/systemd"]
