"""The flows between shipyard's workloads, as data: which must be allowed and
which must be denied by the hardening role's NetworkPolicies. Read by the
analysis over the rendered policies (tests/security/test_reachability.py) and
by the test that tries each flow from real pods (tests/cluster/test_networkpolicy.py)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Peer:
    """A pod (namespace and labels), the API server, or an address outside the cluster."""

    name: str
    namespace: str = ""
    labels: dict[str, str] = field(default_factory=dict, hash=False)
    kind: str = "pod"  # pod, apiserver, outside (elsewhere) or host (the local cluster's published ports)


@dataclass(frozen=True)
class Flow:
    source: Peer
    destination: Peer
    port: int
    port_name: str = ""
    protocol: str = "TCP"


def _stack(name: str, namespace: str) -> Peer:
    return Peer(name, namespace, {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": namespace})


APP = Peer("app", "shipyard", {"app.kubernetes.io/name": "shipyard-app", "app.kubernetes.io/instance": "shipyard-app"})
DB = Peer(
    "postgresql", "shipyard", {"app.kubernetes.io/name": "postgresql", "app.kubernetes.io/instance": "shipyard-app"}
)
BACKUP = Peer(
    "postgresql-backup",
    "shipyard",
    {"app.kubernetes.io/name": "postgresql-backup", "app.kubernetes.io/instance": "shipyard-app"},
)
FRONTEND = Peer(
    "frontend",
    "shipyard",
    {"app.kubernetes.io/name": "shipyard-frontend", "app.kubernetes.io/instance": "shipyard-app"},
)
PROM, AM, GRAFANA, KSM = (_stack(n, "shipyard-monitoring") for n in
                          ("prometheus", "alertmanager", "grafana", "kube-state-metrics"))  # fmt: skip
ES, LOGSTASH, KIBANA = (_stack(n, "shipyard-logging") for n in ("elasticsearch", "logstash", "kibana"))
SETUP = Peer("setup", "shipyard-logging", {"app.kubernetes.io/name": "logging-setup"})
FILEBEAT = _stack("filebeat", "shipyard-logging-agent")
INGRESS = Peer("ingress", "ingress-nginx", {"app.kubernetes.io/name": "ingress-nginx"})
DNS = Peer("dns", "kube-system", {"k8s-app": "kube-dns"})
STRANGER = Peer("stranger", "default", {"app": "stranger"})
API = Peer("api server", kind="apiserver")
OUTSIDE = Peer("outside", kind="outside")
# The local cluster's host, whose Docker proxy forwards the app's published NodePort
# (inventories/sandbox: hardening_app_client_cidrs).
HOST = Peer("host", kind="host")

ALLOWED = {
    # The sandbox inventory runs the frontend: the ingress controller reaches the app through it.
    "ingress -> frontend": Flow(INGRESS, FRONTEND, 8080, "http"),
    "frontend -> app": Flow(FRONTEND, APP, 8080, "http"),
    "frontend -> dns (udp)": Flow(FRONTEND, DNS, 53, "dns", "UDP"),
    "host (published node port) -> app": Flow(HOST, APP, 8080, "http"),
    "prometheus -> app": Flow(PROM, APP, 8080, "http"),
    "app -> postgresql": Flow(APP, DB, 5432, "postgresql"),
    "postgresql-backup -> postgresql": Flow(BACKUP, DB, 5432, "postgresql"),
    "postgresql-backup -> dns (udp)": Flow(BACKUP, DNS, 53, "dns", "UDP"),
    "app -> dns (udp)": Flow(APP, DNS, 53, "dns", "UDP"),
    "postgresql -> dns (tcp)": Flow(DB, DNS, 53, "dns-tcp"),
    "prometheus -> prometheus": Flow(PROM, PROM, 9090, "web"),
    "prometheus -> alertmanager": Flow(PROM, AM, 9093, "web"),
    "prometheus -> grafana": Flow(PROM, GRAFANA, 3000, "http"),
    "prometheus -> kube-state-metrics": Flow(PROM, KSM, 8080, "http-metrics"),
    "prometheus -> api server": Flow(PROM, API, 6443),
    "kube-state-metrics -> api server": Flow(KSM, API, 6443),
    "grafana -> prometheus": Flow(GRAFANA, PROM, 9090, "web"),
    "grafana -> elasticsearch": Flow(GRAFANA, ES, 9200, "http"),
    "ingress -> grafana": Flow(INGRESS, GRAFANA, 3000, "http"),
    "alertmanager -> alertmanager (gossip)": Flow(AM, AM, 9094, "mesh-udp", "UDP"),
    "alertmanager -> receivers": Flow(AM, OUTSIDE, 443),
    "filebeat -> logstash": Flow(FILEBEAT, LOGSTASH, 5044, "beats"),
    "filebeat -> api server": Flow(FILEBEAT, API, 443),
    "logstash -> elasticsearch": Flow(LOGSTASH, ES, 9200, "http"),
    "kibana -> elasticsearch": Flow(KIBANA, ES, 9200, "http"),
    "setup -> elasticsearch": Flow(SETUP, ES, 9200, "http"),
    "setup -> kibana": Flow(SETUP, KIBANA, 5601, "http"),
    "elasticsearch -> elasticsearch (transport)": Flow(ES, ES, 9300, "transport"),
    "ingress -> kibana": Flow(INGRESS, KIBANA, 5601, "http"),
}
DENIED = {
    "ingress -> app (the frontend in between)": Flow(INGRESS, APP, 8080, "http"),
    "stranger -> frontend": Flow(STRANGER, FRONTEND, 8080, "http"),
    "prometheus -> frontend": Flow(PROM, FRONTEND, 8080, "http"),
    "frontend -> postgresql": Flow(FRONTEND, DB, 5432, "postgresql"),
    "frontend -> internet": Flow(FRONTEND, OUTSIDE, 443),
    "frontend -> api server": Flow(FRONTEND, API, 6443),
    "stranger -> app": Flow(STRANGER, APP, 8080, "http"),
    "host -> postgresql": Flow(HOST, DB, 5432, "postgresql"),
    "host -> prometheus": Flow(HOST, PROM, 9090, "web"),
    "stranger -> postgresql": Flow(STRANGER, DB, 5432, "postgresql"),
    "stranger -> grafana": Flow(STRANGER, GRAFANA, 3000, "http"),
    "stranger -> elasticsearch": Flow(STRANGER, ES, 9200, "http"),
    "ingress -> postgresql": Flow(INGRESS, DB, 5432, "postgresql"),
    "ingress -> prometheus": Flow(INGRESS, PROM, 9090, "web"),
    "ingress -> elasticsearch": Flow(INGRESS, ES, 9200, "http"),
    "app -> elasticsearch": Flow(APP, ES, 9200, "http"),
    "app -> prometheus": Flow(APP, PROM, 9090, "web"),
    "app -> internet": Flow(APP, OUTSIDE, 443),
    "app -> api server": Flow(APP, API, 6443),
    "postgresql -> internet": Flow(DB, OUTSIDE, 443),
    "postgresql-backup -> app": Flow(BACKUP, APP, 8080, "http"),
    "postgresql-backup -> internet": Flow(BACKUP, OUTSIDE, 443),
    "postgresql-backup -> api server": Flow(BACKUP, API, 6443),
    "prometheus -> postgresql": Flow(PROM, DB, 5432, "postgresql"),
    "prometheus -> elasticsearch": Flow(PROM, ES, 9200, "http"),
    "prometheus -> internet": Flow(PROM, OUTSIDE, 443),
    "grafana -> app": Flow(GRAFANA, APP, 8080, "http"),
    "grafana -> api server": Flow(GRAFANA, API, 6443),
    "alertmanager -> app": Flow(AM, APP, 8080, "http"),
    "kube-state-metrics -> app": Flow(KSM, APP, 8080, "http"),
    "filebeat -> elasticsearch (logstash in between)": Flow(FILEBEAT, ES, 9200, "http"),
    "filebeat -> app": Flow(FILEBEAT, APP, 8080, "http"),
    "filebeat -> prometheus": Flow(FILEBEAT, PROM, 9090, "web"),
    "filebeat -> internet": Flow(FILEBEAT, OUTSIDE, 443),
    "logstash -> internet": Flow(LOGSTASH, OUTSIDE, 443),
    "elasticsearch -> internet": Flow(ES, OUTSIDE, 443),
    "kibana -> app": Flow(KIBANA, APP, 8080, "http"),
    "kibana -> prometheus": Flow(KIBANA, PROM, 9090, "web"),
    "setup -> app": Flow(SETUP, APP, 8080, "http"),
}


def tenant_peers(namespace: str, instance: str = "shipyard-app") -> dict[str, Peer]:
    """One tenant's workloads: the app, its database, backup Jobs and frontend, in the tenant's namespace."""
    names = {"app": "shipyard-app", "postgresql": "postgresql", "postgresql-backup": "postgresql-backup",
             "frontend": "shipyard-frontend"}  # fmt: skip
    return {
        role: Peer(f"{namespace} {role}", namespace, {"app.kubernetes.io/name": name,
                                                       "app.kubernetes.io/instance": instance})
        for role, name in names.items()
    }  # fmt: skip


def tenant_flows(namespaces: list[str]) -> tuple[dict[str, Flow], dict[str, Flow]]:
    """(allowed, denied) for several tenants: each one's own flows are allowed, and every workload of
    one tenant is denied every port of every other tenant's workloads (each ordered pair)."""
    ports = {"app": (8080, "http"), "postgresql": (5432, "postgresql"), "frontend": (8080, "http")}
    allowed: dict[str, Flow] = {}
    denied: dict[str, Flow] = {}
    peers = {ns: tenant_peers(ns) for ns in namespaces}
    prom = _stack("prometheus", "shipyard-monitoring")
    for ns, own in peers.items():
        allowed[f"{ns}: ingress -> frontend"] = Flow(INGRESS, own["frontend"], 8080, "http")
        allowed[f"{ns}: frontend -> app"] = Flow(own["frontend"], own["app"], 8080, "http")
        allowed[f"{ns}: app -> postgresql"] = Flow(own["app"], own["postgresql"], 5432, "postgresql")
        allowed[f"{ns}: postgresql-backup -> postgresql"] = Flow(own["postgresql-backup"], own["postgresql"], 5432,
                                                                  "postgresql")  # fmt: skip
        allowed[f"{ns}: prometheus -> app"] = Flow(prom, own["app"], 8080, "http")
        for other, theirs in peers.items():
            if other == ns:
                continue
            for src_role, src in own.items():
                for dst_role, (port, port_name) in ports.items():
                    denied[f"{ns} {src_role} -> {other} {dst_role}"] = Flow(src, theirs[dst_role], port, port_name)
    return allowed, denied
