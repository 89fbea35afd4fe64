"""The site converged with every number and boolean given as `-e name=value` changes nothing.

`-e name=value` hands the site strings ("2", "false"); tests/unit/test_key_value_input.py
renders with them, this runs them through the converge's own tasks (its conditions,
waits and timeouts) on the local cluster: the values the sandbox inventory runs with,
each as its own `-e name=value`, must leave every object as the plain run left it, and
preview no change in --check. Before the fix the same run stopped in the app's input
check. Real pods: the site's workloads on the real node are read ready by its waits.
"""

from __future__ import annotations

from realpods import ansible_playbook
from tenantsite import recap
from typed_options import as_key_value, in_force

ROLES = ["app_deploy", "logging", "monitoring", "hardening", "image_build"]


def test_the_site_with_name_value_strings_changes_nothing(cluster) -> None:
    values = in_force(ROLES, "sandbox")
    assert {"app_deploy_replicas", "app_deploy_hpa_enabled", "monitoring_alert_error_ratio"} <= set(values)
    args = [arg for name, value in values.items() for arg in ("-e", f"{name}={as_key_value(value)}")]
    # The site as earlier tests left it, converged plainly first: the run below must find nothing to do.
    plain = ansible_playbook("playbooks/site.yml")
    assert plain.returncode == 0, plain.stdout[-3000:]
    strings = ansible_playbook("playbooks/site.yml", *args)
    assert strings.returncode == 0, strings.stdout[-3000:]
    assert recap(strings.stdout)["localhost"] == (0, 0), strings.stdout[-3000:]
    preview = ansible_playbook("playbooks/site.yml", "--check", "--diff", *args)
    assert preview.returncode == 0, preview.stdout[-3000:]
    assert recap(preview.stdout)["localhost"] == (0, 0), preview.stdout[-3000:]
