# A Debian host for Molecule: systemd as PID 1, so roles manage services the
# way they do on a real machine, and sshd, so a scenario can reach it as a VM
# is reached (the remote scenario). Built FROM the local debootstrap image.
# The SSH host keys are made at build time, so every container of one build
# shares them: a test image only; nobody can log in until a test adds a key.
ARG BASE_IMAGE=localhost/shipyard/debian:bookworm
FROM ${BASE_IMAGE}
ARG DEBIAN_MIRROR=http://deb.debian.org/debian
RUN printf 'deb %s bookworm main\ndeb %s bookworm-updates main\n' "$DEBIAN_MIRROR" "$DEBIAN_MIRROR" >/etc/apt/sources.list \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      systemd systemd-sysv dbus sudo procps iproute2 kmod curl gnupg openssh-server \
 && rm -rf /var/lib/apt/lists/* \
 && find /etc/systemd/system /lib/systemd/system -path '*.wants/*' \
      \( -name '*getty*' -o -name '*udev*' -o -name 'systemd-remount-fs*' \) -delete
STOPSIGNAL SIGRTMIN+3
CMD ["/lib/systemd/systemd"]
