"""inventory/example: it parses, the GPU nodes have what joining needs with one vault
name, the users of the Windows stage and the SSH stages match, and every variable it
sets is read by something (a role, a playbook, Ansible itself, or another of its own
variables that is read)."""
import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "inventory" / "example"


def ansible(*args):
    env = {**os.environ, "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json", "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1"}
    return subprocess.run(list(args), check=True, capture_output=True, text=True, cwd=ROOT, env=env).stdout


@pytest.fixture(scope="module")
def listing():
    return json.loads(ansible("ansible-inventory", "-i", str(EXAMPLE), "--list"))


def hosts_of(listing, group):
    hosts = set(listing.get(group, {}).get("hosts", []))
    for child in listing.get(group, {}).get("children", []):
        hosts |= hosts_of(listing, child)
    return hosts


def templated(host, expr):
    out = json.loads(ansible("ansible", "-i", str(EXAMPLE), host, "-m", "ansible.builtin.debug",
                             "-a", f"msg={{{{ {expr} }}}}", "-e", "vault_k3s_token=from-the-vault"))
    return out["plays"][0]["tasks"][0]["hosts"][host]["msg"]


def test_the_example_has_the_homelab(listing):
    assert hosts_of(listing, "windows_hosts")
    assert hosts_of(listing, "wsl_gpu_nodes")
    assert hosts_of(listing, "baremetal_gpu_nodes")
    assert hosts_of(listing, "k3s_servers")


def test_every_gpu_node_has_the_join_settings_from_one_vault_name(listing):
    for host in sorted(hosts_of(listing, "gpu_nodes")):
        hv = listing["_meta"]["hostvars"][host]
        assert templated(host, "cluster_join_server_url").startswith("https://"), host
        assert templated(host, "cluster_join_token") == "from-the-vault", host
        assert hv["cluster_join_token"] == "{{ vault_k3s_token }}"
    # one vault variable name for the token everywhere it is documented or used
    names = set()
    for path in [*EXAMPLE.rglob("*"), *ROOT.glob("roles/*/README.md"), *ROOT.glob("docs/*.md"),
                 ROOT / "README.md", ROOT / "playbooks" / "awx_configure.yml"]:
        if path.is_file():
            names |= set(re.findall(r"\bvault_\w*token\w*", path.read_text()))
    assert names == {"vault_k3s_token"}, names


def test_vault_examples_set_only_what_is_read():
    allvault = yaml.safe_load((EXAMPLE / "group_vars" / "all" / "vault.yml.example").read_text())
    assert set(allvault) == {"vault_k3s_token"}


def test_users_match_between_the_windows_stage_and_ssh(listing):
    for node in sorted(hosts_of(listing, "wsl_gpu_nodes")):
        windows = listing["_meta"]["hostvars"][node]["wsl_windows_host"]
        assert windows in hosts_of(listing, "windows_hosts")
        created = templated(windows, "windows_host_wsl_ssh_user")
        assert templated(node, "ansible_user") == created, f"{node} logs in as a user {windows} does not create"


def ansible_own_variables():
    """Variables Ansible itself reads: connection/become plugin and config `vars` entries."""
    names = set()
    docs = json.loads(subprocess.run(["ansible-doc", "-t", "connection", "--json", "ssh", "winrm", "local"],
                                     check=True, capture_output=True, text=True).stdout)
    docs |= json.loads(subprocess.run(["ansible-doc", "-t", "become", "--json", "sudo"],
                                      check=True, capture_output=True, text=True).stdout)
    for plugin in docs.values():
        for option in plugin["doc"].get("options", {}).values():
            names |= {v["name"] for v in option.get("vars", [])}
    config = json.loads(subprocess.run(["ansible-config", "list", "--format", "json"],
                                       check=True, capture_output=True, text=True).stdout)
    for option in config.values():
        names |= {v["name"] for v in (option.get("vars") or [])}
    # playbook keywords set per host through variables (ansible_connection, ansible_become, ...)
    from ansible import constants
    for aliases in constants.MAGIC_VARIABLE_MAPPING.values():
        names |= set(aliases)
    return names


def ansible_extras_prefixes():
    """Connection plugins that pass every ansible_<prefix>_* variable on (winrm to pywinrm)."""
    from ansible.plugins.loader import connection_loader
    prefixes = []
    for name in ("winrm",):
        plugin = connection_loader.get(name, class_only=True)
        if getattr(plugin, "allow_extras", False):
            prefixes.append(f"ansible_{name}_")  # Ansible's rule for a plugin's extra variables
    return prefixes


def example_variables():
    """(name, value) for every variable inventory/example sets (hosts.yml and group_vars)."""
    out = []

    def walk_group(group):
        for hv in (group.get("hosts") or {}).values():
            out.extend((hv or {}).items())
        out.extend((group.get("vars") or {}).items())
        for child in (group.get("children") or {}).values():
            walk_group(child or {})

    walk_group(yaml.safe_load((EXAMPLE / "hosts.yml").read_text())["all"])
    for path in (EXAMPLE / "group_vars").rglob("*"):
        if path.is_file():
            out.extend((yaml.safe_load(path.read_text()) or {}).items())
    return out


def test_every_variable_the_example_sets_is_read():
    pairs = example_variables()
    variables = {pair[0] for pair in pairs}
    own = ansible_own_variables()
    extras = ansible_extras_prefixes()
    patterns = ("roles/*/tasks/*.yml", "roles/*/templates/*", "roles/*/defaults/main.yml", "roles/*/vars/main.yml",
                "roles/*/meta/argument_specs.yml", "playbooks/*.yml", "plugins/**/*.py")
    sources = "\n".join(p.read_text() for pattern in patterns for p in ROOT.glob(pattern) if p.is_file())
    read = {n for n in variables
            if n in own or n.startswith(tuple(extras)) or re.search(r"\b" + re.escape(n) + r"\b", sources)}
    # a variable used only inside another of the example's variables is read when that one is
    changed = True
    while changed:
        changed = False
        for name, value in pairs:
            if name in read:
                for other in variables:
                    if other not in read and re.search(r"\b" + re.escape(other) + r"\b", json.dumps(value)):
                        read.add(other)
                        changed = True
    unread = sorted(set(variables) - read)
    assert not unread, f"inventory/example sets variables nothing reads: {unread}"


def test_site_syntax_check_with_the_example():
    subprocess.run(["ansible-playbook", "playbooks/site.yml", "-i", str(EXAMPLE), "--syntax-check"],
                   check=True, cwd=ROOT, capture_output=True)
