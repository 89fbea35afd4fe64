"""container_runtime's host state, read with testinfra on each converged host (Debian and
Ubuntu; docker:// backend): the package, the service, the socket, the files and their
modes, the kernel settings live and persisted, and the engine as the user it was given to.
verify.yml runs it after its check-mode preview (which testinfra cannot judge)."""

from __future__ import annotations

import json

SYSCTLS = {"fs.inotify.max_user_watches": 524288, "fs.inotify.max_user_instances": 512, "vm.max_map_count": 262144}


def test_each_host_runs_the_distribution_it_stands_for(host) -> None:
    expected = "ubuntu" if host.backend.name.endswith("-ubuntu") else "debian"
    assert host.system_info.distribution == expected


def test_the_distributions_engine_package_is_installed(host) -> None:
    assert host.package("docker.io").is_installed


def test_the_engine_runs_now_and_at_boot(host) -> None:
    docker = host.service("docker")
    assert docker.is_running
    assert docker.is_enabled


def test_the_engines_socket_belongs_to_root_and_the_docker_group(host) -> None:
    sock = host.file("/run/docker.sock")
    assert sock.is_socket
    assert (sock.user, sock.group, sock.mode) == ("root", "docker", 0o660)
    assert host.socket("unix:///run/docker.sock").is_listening


def test_daemon_json_is_roots_and_says_what_the_role_was_asked(host) -> None:
    daemon = host.file("/etc/docker/daemon.json")
    assert (daemon.user, daemon.group, daemon.mode) == ("root", "root", 0o644)
    config = json.loads(daemon.content_string)
    assert config["exec-opts"] == ["native.cgroupdriver=systemd"]
    assert config["live-restore"] is True
    assert config["log-driver"] == "json-file"
    assert config["log-opts"] == {"max-size": "10m", "max-file": "3"}


def test_the_kernel_settings_are_live_and_persisted(host) -> None:
    persisted = host.file("/etc/sysctl.d/90-shipyard.conf")
    assert (persisted.user, persisted.mode) == ("root", 0o644)
    for key, value in SYSCTLS.items():
        assert host.sysctl(key) >= value, key
        assert persisted.contains(rf"^{key}\s*=\s*{value}$"), key


def test_the_user_reaches_the_engine_without_sudo(host) -> None:
    assert "docker" in host.user("shipyard").groups
    info = host.run("runuser -u shipyard -- docker info --format '{{json .}}'")
    assert info.rc == 0, info.stderr
    engine = json.loads(info.stdout)
    assert engine["CgroupDriver"] == "systemd" and engine["LiveRestoreEnabled"] is True
