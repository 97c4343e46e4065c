"""Run the AWX job templates of playbooks/awx_configure.yml the way AWX runs them.

    .venv/bin/python scripts/awx_jobs.py show        print what AWX would be told (templates, surveys, workflow)
    .venv/bin/python scripts/awx_jobs.py lab         run the workflow's job templates with ansible-runner in
                                    the lab execution environment against lab nodes

Everything about a job comes from playbooks/awx_configure.yml itself (loaded as
YAML, its Jinja resolved with the play's own vars): the project, the inventory
source's file, the job templates (playbook, tags, limit, become, credentials,
survey), the credential type's injectors and the workflow graph. Nothing is
copied by hand.

What AWX does for a job, and what `lab` does the same way:
- the project is a copy of the repository (AWX: a checkout of the SCM branch);
- the inventory is what an SCM inventory source imports: `ansible-inventory
  --list --export` of the source's file, run in the execution environment, handed
  to the job as an inventory script;
- a Machine credential becomes `-u USER` plus an SSH key (ssh-agent) or a password
  answered at the prompt; a custom credential type's injectors become extra vars;
- survey answers (the defaults, or a valid choice) become extra vars; job tags,
  limit and become go on the ansible-playbook command line;
- ansible-runner runs the playbook inside the execution environment with that
  private data directory.

The lab adds one more inventory file, the lab stand-ins (lab_standins.yml): the
example's hosts get the addresses of lab containers (no real homelab here), and
the outermost boundaries get their stand-ins (the fake nvidia-smi, the k3s
stand-in executable, no NVIDIA package repositories). The Windows desktop has no
stand-in: its job must get as far as WinRM (argument validation passes, pywinrm
loads) and stop there as UNREACHABLE.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jinja2
import yaml

ROOT = Path(__file__).resolve().parent.parent
AWX_CONFIGURE = ROOT / "playbooks" / "awx_configure.yml"
LAB_PREFIX = "awx-"
# Job templates outside the workflow (docs/lifecycle.md): launched by hand or by a Windows hook.
LIFECYCLE_PLAYBOOKS = ("playbooks/gpu_give_back.yml", "playbooks/gpu_take_back.yml", "playbooks/upgrade.yml",
                       "playbooks/uninstall.yml")
LAB_TOKEN = "K10lab0only0not0a0secret::server:awx"
LAB_WINRM_PASSWORD = "lab-only-not-a-secret"

# Lab stand-ins for the example's GPU nodes: the capture each one's FAKE
# nvidia-smi replays (no capture of an A2 or an RTX 3090 exists in the fixtures).
LAB_CAPTURES = {
    "wsl-gpu-node": {"fake_nvidia_smi_capture": "netdata/rtx-4090-driver-535.xml", "fake_nvidia_smi_wsl": True},
    "a2-node": {"fake_nvidia_smi_capture": "netdata/tesla-p100.xml"},
    "rtx3090-node": {"fake_nvidia_smi_capture": "a0s-nvidia-smi-exporter/nvidia-smi-3.xml"},
}


# --- awx_configure.yml as data ------------------------------------------------------

class _Loader(yaml.SafeLoader):
    """SafeLoader that keeps Ansible's !unsafe strings (credential injector templates)."""


_Loader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))


def _version_matrix_lookup(plugin, component, **_kwargs):
    """lookup('homelab.gpu_node.version_matrix', NAME): the pin from meta/version_matrix.yml (the only lookup used)."""
    if plugin != "homelab.gpu_node.version_matrix":
        raise ValueError(f"awx_configure.yml uses lookup {plugin!r}; only homelab.gpu_node.version_matrix is resolved here")
    with open(ROOT / "meta" / "version_matrix.yml", encoding="utf-8") as fh:
        return str(yaml.safe_load(fh)["components"][component]["version"])


def _resolve(value, variables):
    """Resolve "{{ name }}" references to play/task vars (lists and dicts stay objects)."""
    if isinstance(value, str):
        stripped = value.strip()
        if stripped.startswith("{{") and stripped.endswith("}}"):
            name = stripped[2:-2].strip()
            if name in variables:
                return _resolve(variables[name], variables)
        if "{{" in value:
            env = jinja2.Environment(undefined=jinja2.StrictUndefined)
            env.globals["lookup"] = _version_matrix_lookup
            return env.from_string(value).render(**variables)
        return value
    if isinstance(value, list):
        return [_resolve(v, variables) for v in value]
    if isinstance(value, dict):
        return {k: _resolve(v, variables) for k, v in value.items()}
    return value


class AwxConfig:
    """The objects playbooks/awx_configure.yml creates, with its Jinja resolved."""

    def __init__(self, path: Path = AWX_CONFIGURE):
        with open(path, encoding="utf-8") as fh:
            plays = yaml.load(fh, Loader=_Loader)  # noqa: S506 (SafeLoader subclass)
        self.play = plays[0]
        self.vars = dict(self.play.get("vars") or {})
        self.objects: dict[str, list[dict]] = {}
        for task in self.play["tasks"]:
            module = next(k for k in task if k.startswith("awx.awx."))
            variables = {**self.vars, **(task.get("vars") or {})}
            if module == "awx.awx.credential_type":
                # Injector templates are AWX's own Jinja ({{ token }}): keep them as they are.
                args = dict(task[module])
                args = {k: (v if k == "injectors" else _resolve(v, variables)) for k, v in args.items()}
            else:
                args = _resolve(task[module], variables)
            self.objects.setdefault(module.split(".")[-1], []).append(args)

    def _one(self, kind: str) -> dict:
        items = self.objects.get(kind, [])
        if len(items) != 1:
            raise ValueError(f"awx_configure.yml defines {len(items)} {kind} objects, expected one")
        return items[0]

    @property
    def inventory_source_path(self) -> str:
        return self._one("inventory_source")["source_path"]

    @property
    def job_templates(self) -> dict[str, dict]:
        return {jt["name"]: jt for jt in self.objects.get("job_template", [])}

    @property
    def credential_types(self) -> dict[str, dict]:
        return {ct["name"]: ct for ct in self.objects.get("credential_type", [])}

    @property
    def credentials(self) -> dict[str, dict]:
        """Credentials the playbook creates (name -> its type); Machine credentials are the user's."""
        return {c["name"]: c for c in self.objects.get("credential", [])}

    @property
    def workflow(self) -> dict:
        return self._one("workflow_job_template")

    def workflow_graph(self) -> dict[str, dict]:
        nodes = {}
        for node in self.workflow["workflow_nodes"]:
            related = node.get("related") or {}
            nodes[node["identifier"]] = {
                "template": node["unified_job_template"]["name"],
                **{kind: [n["identifier"] for n in related.get(f"{kind}_nodes", [])]
                   for kind in ("success", "failure", "always")},
            }
        return nodes

    def workflow_roots(self) -> list[str]:
        graph = self.workflow_graph()
        children = {c for n in graph.values() for k in ("success", "failure", "always") for c in n[k]}
        return [n for n in graph if n not in children]

    def workflow_path(self, outcome: dict[str, bool] | None = None) -> list[str]:
        """Nodes AWX runs, in order, when each node ends as `outcome` says (default: success)."""
        outcome = outcome or {}
        graph = self.workflow_graph()
        order, frontier = [], list(self.workflow_roots())
        while frontier:
            node = frontier.pop(0)
            if node in order:
                continue
            order.append(node)
            ok = outcome.get(node, True)
            frontier += graph[node]["success" if ok else "failure"] + graph[node]["always"]
        return order

    def survey_answers(self, template: str, answers: dict | None = None) -> dict:
        """Survey defaults, overridden by `answers`, validated as AWX validates them."""
        jt = self.job_templates[template]
        if not jt.get("survey_enabled"):
            return {}
        result = {}
        answers = answers or {}
        for q in jt["survey_spec"]["spec"]:
            var = q["variable"]
            value = answers.get(var, q.get("default"))
            if value in (None, "") and not q.get("required"):
                continue  # AWX passes nothing for an unanswered optional question
            if value in (None, ""):
                raise ValueError(f"{template}: survey question {var} is required")
            if q["type"] == "integer":
                value = int(value)
                if not q.get("min", value) <= value <= q.get("max", value):
                    raise ValueError(f"{template}: {var}={value} outside {q.get('min')}..{q.get('max')}")
            if q["type"] == "multiplechoice" and value not in q["choices"]:
                raise ValueError(f"{template}: {var}={value!r} is not one of {q['choices']}")
            result[var] = value
        unknown = set(answers) - {q["variable"] for q in jt["survey_spec"]["spec"]}
        if unknown:
            raise ValueError(f"{template}: no survey question for {sorted(unknown)}")
        return result

    def injected_extra_vars(self, template: str, inputs: dict[str, dict]) -> dict:
        """Extra vars the template's custom credentials inject (inputs: credential name -> inputs)."""
        result = {}
        for cred in self.job_templates[template].get("credentials", []):
            if cred not in self.credentials:
                continue  # a Machine credential: -u / key / password, not injectors
            ctype = self.credential_types[self.credentials[cred]["credential_type"]]
            env = jinja2.Environment(undefined=jinja2.StrictUndefined)
            for var, tmpl in (ctype.get("injectors") or {}).get("extra_vars", {}).items():
                result[var] = env.from_string(tmpl).render(**inputs[cred])
        return result

    def machine_credential(self, template: str) -> str | None:
        machine = [c for c in self.job_templates[template].get("credentials", []) if c not in self.credentials]
        if len(machine) > 1:
            raise ValueError(f"{template}: AWX allows one Machine credential, got {machine}")
        return machine[0] if machine else None


# --- the lab --------------------------------------------------------------------------

def log(msg: str) -> None:
    print(f"awx-jobs: {msg}", file=sys.stderr, flush=True)


def sh(cmd, check=True, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=check, **kw)


def example_value(inventory: str, host: str, expr: str) -> object:
    """A variable of the example inventory as Ansible templates it (debug runs locally)."""
    env = {**os.environ, "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json", "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1"}
    out = sh(["ansible", "-i", inventory, host, "-m", "ansible.builtin.debug", "-a", f"msg={{{{ {expr} }}}}",
              "-e", "vault_k3s_token=unused"], capture_output=True, text=True, env=env, cwd=ROOT).stdout
    data = json.loads(out)
    return data["plays"][0]["tasks"][0]["hosts"][host]["msg"]


def lab_up(hosts: list[str]) -> dict[str, str]:
    names = [LAB_PREFIX + h for h in hosts]
    sh([str(ROOT / "scripts" / "lab.sh"), "up", *names])
    ips = {}
    for host, name in zip(hosts, names):
        ips[host] = sh(["podman", "inspect", "-f", "{{.NetworkSettings.IPAddress}}", name],
                       capture_output=True, text=True).stdout.strip()
    return ips


def lab_prepare(users: dict[str, str], work: Path) -> None:
    """What the real homelab has before the Linux stages: the GPU (here the FAKE
    nvidia-smi replaying a capture) and the login user with passwordless sudo and
    the controller's key (on the WSL node the windows_host stage creates it, which
    cannot run here; on the servers their admin does)."""
    inv = {"all": {"children": {"gpu_nodes": {"hosts": {
        LAB_PREFIX + h: {"ansible_connection": "containers.podman.podman", **LAB_CAPTURES[h]} for h in users}}}}}
    (work / "prepare_inventory.yml").write_text(yaml.safe_dump(inv))
    sh(["ansible-playbook", "-i", str(work / "prepare_inventory.yml"), str(ROOT / "lab" / "prepare.yml")],
       cwd=ROOT, stdout=subprocess.DEVNULL)
    pubkey = (ROOT / ".cache" / "lab" / "ssh" / "id_ed25519.pub").read_text()
    for host, user in users.items():
        script = (
            f"id -u {user} >/dev/null 2>&1 || useradd -m -s /bin/bash {user}; "
            f"install -d -m 0700 -o {user} -g {user} /home/{user}/.ssh; "
            f"cat > /home/{user}/.ssh/authorized_keys; chown {user}:{user} /home/{user}/.ssh/authorized_keys; "
            f"chmod 0600 /home/{user}/.ssh/authorized_keys; "
            f"echo '{user} ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/{user}; chmod 0440 /etc/sudoers.d/{user}")
        sh(["podman", "exec", "-i", LAB_PREFIX + host, "sh", "-c", script], input=pubkey, text=True)


def copy_project(dest: Path) -> None:
    """The project as AWX checks it out: the repository's files (tracked and not ignored)."""
    files = sh(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
               capture_output=True, cwd=ROOT).stdout.split(b"\0")
    for rel in filter(None, files):
        src = ROOT / rel.decode()
        if not src.exists():
            continue
        target = dest / rel.decode()
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target, follow_symlinks=False)


def podman_ee(image: str, pdd: Path, args: list[str], **kw) -> subprocess.CompletedProcess:
    return sh(["podman", "run", "--rm", "-v", f"{pdd}:/runner", "-e", "HOME=/runner", image, *args], **kw)


def import_inventory(image: str, pdd: Path, source_path: str) -> dict:
    """An SCM inventory source's update: ansible-inventory on the file, in the EE."""
    out = podman_ee(image, pdd, ["ansible-inventory", "-i", f"/runner/project/{source_path}",
                                 "--list", "--export"], capture_output=True, text=True).stdout
    return json.loads(out)


INVENTORY_SCRIPT = """#!/usr/bin/env python3
# The inventory AWX imported from its SCM inventory source, as AWX hands it to a job.
import json, sys
DATA = json.loads({data!r})
print(json.dumps(DATA if "--list" in sys.argv else {{}}))
"""


def lab_standins(ips: dict[str, str], windows_host: str, windows_standin_ip: str) -> dict:
    standin = "{{ playbook_dir }}/../molecule/cluster_join_k3s_airgap/files/k3s-standin"
    digest = hashlib.sha256((ROOT / "molecule/cluster_join_k3s_airgap/files/k3s-standin").read_bytes()).hexdigest()
    hosts = {windows_host: {"ansible_host": windows_standin_ip}}
    for host, ip in ips.items():
        hosts[host] = {
            "ansible_host": ip,
            "gpu_runtime_test_standins": True,
            "cluster_join_k3s_airgap_binary": standin,
            "cluster_join_k3s_airgap_sha256": digest,
        }
    return {"all": {"hosts": hosts}}


class Job:
    def __init__(self, cfg: AwxConfig, template: str, image: str, work: Path, inventory: dict,
                 standins: dict, survey: dict | None = None):
        self.cfg, self.template, self.image = cfg, template, image
        self.jt = cfg.job_templates[template]
        self.pdd = work / template.replace(" ", "_")
        self.inventory, self.standins, self.survey = inventory, standins, survey or {}

    def prepare(self) -> None:
        pdd = self.pdd
        if pdd.exists():
            shutil.rmtree(pdd)
        copy_project(pdd / "project")
        (pdd / "inventory").mkdir()
        script = pdd / "inventory" / "hosts"
        script.write_text(INVENTORY_SCRIPT.format(data=json.dumps(self.inventory)))
        script.chmod(0o755)
        (pdd / "inventory" / "lab_standins.yml").write_text(yaml.safe_dump(self.standins))
        (pdd / "env").mkdir()
        extra = {**self.cfg.survey_answers(self.template, self.survey),
                 **self.cfg.injected_extra_vars(self.template, {
                     c: {"token": LAB_TOKEN} for c in self.cfg.credentials})}
        (pdd / "env" / "extravars").write_text(json.dumps(extra))
        cmdline = []
        if self.jt.get("job_tags"):
            cmdline += ["--tags", self.jt["job_tags"]]
        if self.jt.get("limit"):
            cmdline += ["--limit", self.jt["limit"]]
        if self.jt.get("become_enabled"):
            cmdline += ["--become"]
        machine = self.cfg.machine_credential(self.template)
        if machine:
            cmdline += ["-u", "homelab"]
            if machine == self.cfg.vars["awx_windows_credential"]:
                cmdline += ["--ask-pass"]
                (pdd / "env" / "passwords").write_text(
                    json.dumps({r"^SSH [pP]assword:\s*?$": LAB_WINRM_PASSWORD}))
            else:
                shutil.copy2(ROOT / ".cache" / "lab" / "ssh" / "id_ed25519", pdd / "env" / "ssh_key")
        (pdd / "env" / "cmdline").write_text(" ".join(cmdline))
        # AWX's job environment: no host key checking (its default), no retry files.
        (pdd / "env" / "envvars").write_text(json.dumps({
            "ANSIBLE_HOST_KEY_CHECKING": "False", "ANSIBLE_RETRY_FILES_ENABLED": "False",
            "ANSIBLE_FORCE_COLOR": "False"}))
        sh(["chown", "-R", "1000:0", str(pdd)])
        (pdd / "env" / "ssh_key").exists() and (pdd / "env" / "ssh_key").chmod(0o600)

    def run(self, ident: str) -> dict:
        log(f"{self.template}: ansible-runner in {self.image} ({self.jt['playbook']}, run {ident})")
        proc = podman_ee(self.image, self.pdd, ["ansible-runner", "run", "/runner", "-p", self.jt["playbook"],
                                                "--ident", ident], check=False,
                         capture_output=True, text=True)
        art = self.pdd / "artifacts" / ident
        stdout = (art / "stdout").read_text(errors="replace") if (art / "stdout").exists() else proc.stdout
        (self.pdd.parent / f"{self.pdd.name}-{ident}.log").write_text(stdout + proc.stderr)
        stats = {}
        events = []
        for ev_file in sorted((art / "job_events").glob("*.json"), key=lambda p: int(p.name.split("-")[0])):
            ev = json.loads(ev_file.read_text())
            events.append(ev)
            if ev.get("event") == "playbook_on_stats":
                stats = ev["event_data"]
        status = (art / "status").read_text().strip() if (art / "status").exists() else "error"
        rc = int((art / "rc").read_text()) if (art / "rc").exists() else proc.returncode
        return {"status": status, "rc": rc, "stats": stats, "events": events, "stdout": stdout,
                "log": self.pdd.parent / f"{self.pdd.name}-{ident}.log"}


def recap(result: dict) -> str:
    s = result["stats"]
    hosts = sorted(set().union(*[s.get(k) or {} for k in ("ok", "changed", "failures", "dark", "skipped")]))
    return "; ".join(f"{h} ok={s.get('ok', {}).get(h, 0)} changed={s.get('changed', {}).get(h, 0)} "
                     f"failed={s.get('failures', {}).get(h, 0)} unreachable={s.get('dark', {}).get(h, 0)}"
                     for h in hosts)


def fail(msg: str, result: dict | None = None) -> None:
    if result is not None:
        tail = "\n".join(result["stdout"].splitlines()[-40:])
        msg += f"\n--- last lines of {result['log']}:\n{tail}"
    raise SystemExit(f"awx-jobs: FAILED: {msg}")


def lab(args) -> int:
    cfg = AwxConfig()
    image = args.image or sh([sys.executable, str(ROOT / "scripts" / "ee.py"), "lab-build"],
                             capture_output=True, text=True).stdout.strip().splitlines()[-1]
    work = ROOT / ".cache" / "awx-jobs"
    work.mkdir(parents=True, exist_ok=True)
    source = cfg.inventory_source_path
    inventory_dir = str(Path(source).parent)

    gpu_hosts = json.loads(sh(["ansible-inventory", "-i", source, "--list"], capture_output=True,
                              text=True, cwd=ROOT).stdout)
    gpu_nodes = sorted(example_hosts(gpu_hosts, "gpu_nodes"))
    windows_hosts = sorted(example_hosts(gpu_hosts, "windows_hosts"))
    missing = set(gpu_nodes) - set(LAB_CAPTURES)
    if missing:
        fail(f"no lab stand-in (capture) for the example's GPU nodes {sorted(missing)}")
    users = {h: example_value(inventory_dir, h, "ansible_user") for h in gpu_nodes}
    log(f"lab stand-ins for {', '.join(gpu_nodes)} (login users: {users})")
    ips = lab_up(gpu_nodes)
    lab_prepare(users, work)
    # The Windows desktop's stand-in address is a lab node with no WinRM listener.
    standins = lab_standins(ips, windows_hosts[0], ips[gpu_nodes[0]])

    check_mode_run(source, standins, work)

    # The project copy and the inventory import, once (AWX: project and inventory updates).
    update = work / "inventory-update"
    if update.exists():
        shutil.rmtree(update)
    copy_project(update / "project")
    sh(["chown", "-R", "1000:0", str(update)])
    inventory = import_inventory(image, update, source)

    graph = cfg.workflow_graph()
    role = {n: stage_of(cfg, v["template"]) for n, v in graph.items()}
    windows_node = next(n for n, r in role.items() if r == "windows")
    order = cfg.workflow_path()
    log(f"workflow {cfg.workflow['name']!r}, success path: {' -> '.join(order)}; "
        f"after a failure of {windows_node}: {' -> '.join(cfg.workflow_path({windows_node: False}))}")
    # Survey defaults, except: render (there is no kube-apiserver in the lab) and
    # replicas other than the role's defaults, so that the rendered ConfigMap shows
    # the answers arrived.
    answers = {graph[n]["template"]: {"gpu_cluster_mode": "render", "gpu_cluster_replicas_rtx3090": 6,
                                      "gpu_cluster_replicas_a2": 3}
               for n in order if role[n] == "cluster"}

    results = {}
    for node in order:
        template = graph[node]["template"]
        job = Job(cfg, template, image, work, inventory, standins, answers.get(template))
        job.prepare()
        first = job.run("1")
        results[node] = first
        log(f"{template}: {first['status']} (rc {first['rc']}): {recap(first)}")
        if node == windows_node:
            check_windows_job(first, windows_hosts)
            continue
        if first["status"] != "successful":
            fail(f"{template} did not succeed", first)
        if role[node] == "doctor":
            continue
        second = job.run("2")
        log(f"{template} rerun: {second['status']}: {recap(second)}")
        if second["status"] != "successful":
            fail(f"{template} rerun did not succeed", second)
        changed = {h: n for h, n in (second["stats"].get("changed") or {}).items() if n}
        if changed:
            fail(f"{template} rerun changed something: {changed}", second)
        if role[node] == "linux":
            check_linux_job(first, gpu_nodes)
        if role[node] == "cluster":
            check_rendered(job, cfg, answers[template], inventory)
    log("all job templates ran in the execution environment as AWX runs them")
    if not args.keep:
        sh([str(ROOT / "scripts" / "lab.sh"), "down", *[LAB_PREFIX + h for h in gpu_nodes]])
    return 0


def stage_of(cfg: AwxConfig, template: str) -> str:
    """Which stage a job template is, from its own definition."""
    jt = cfg.job_templates[template]
    if cfg.machine_credential(template) == cfg.vars["awx_windows_credential"]:
        return "windows"
    if jt["playbook"].endswith("doctor.yml"):
        return "doctor"
    if jt["playbook"] in LIFECYCLE_PLAYBOOKS:
        return "lifecycle"
    if any(q["variable"] == "gpu_cluster_mode" for q in (jt.get("survey_spec") or {}).get("spec", [])):
        return "cluster"
    return "linux"


def example_hosts(listing: dict, group: str) -> set[str]:
    hosts = set(listing.get(group, {}).get("hosts", []))
    for child in listing.get(group, {}).get("children", []):
        hosts |= example_hosts(listing, child)
    return hosts


def check_windows_job(result: dict, windows_hosts: list[str]) -> None:
    """No Windows host here: the job must reach WinRM and stop there, nothing else."""
    s = result["stats"]
    if s.get("failures"):
        fail(f"the Windows job failed a task before WinRM: {s['failures']}", result)
    dark = set(s.get("dark") or {})
    if dark != set(windows_hosts):
        fail(f"the Windows job should stop at WinRM on {windows_hosts}, unreachable: {sorted(dark)}", result)
    msgs = [ev["event_data"].get("res", {}).get("msg", "") for ev in result["events"]
            if ev.get("event") == "runner_on_unreachable"]
    if not msgs or not all(("ssl:" in m or "Connection refused" in m) and "not installed" not in m for m in msgs):
        fail(f"the Windows job did not fail at the WinRM connection: {msgs}", result)
    ok = (s.get("ok") or {})
    log(f"Windows job stopped at WinRM as expected (tasks ok before it: {ok}; {msgs[0][:100]})")


def check_linux_job(result: dict, gpu_nodes: list[str]) -> None:
    s = result["stats"]
    changed = s.get("changed") or {}
    if set(gpu_nodes) - set(changed):
        fail(f"the first Linux job changed nothing on {sorted(set(gpu_nodes) - set(changed))}", result)


def check_rendered(job: Job, cfg: AwxConfig, answers: dict, inventory: dict) -> None:
    """The cluster job rendered, and each replicas answer reached its model's ConfigMap key."""
    found = list((job.pdd / "project").rglob("rendered/gpu-cluster/configmap-*.yaml"))
    if not found:
        fail("the cluster job rendered no ConfigMap (rendered/gpu-cluster/configmap-*.yaml)")
    docs = [d for d in yaml.safe_load_all(found[0].read_text()) if d]
    data = docs[0]["data"]
    survey = cfg.survey_answers(job.template, answers)
    configs = inventory.get("kube_api", {}).get("vars", {}).get("gpu_cluster_device_plugin_configs", [])
    checked = 0
    for var, value in survey.items():
        for entry in configs:
            if var not in str(entry.get("time_slicing", {}).get("replicas", "")):
                continue
            key = entry.get("key") or re.sub(r"[^a-z0-9]+", "-", entry["model"].lower()).strip("-")
            plugin_config = yaml.safe_load(data.get(key, "{}")) or {}
            replicas = [r.get("replicas") for r in
                        plugin_config.get("sharing", {}).get("timeSlicing", {}).get("resources", [])]
            if replicas != [value]:
                fail(f"survey answer {var}={value}: ConfigMap key {key!r} has replicas {replicas} ({found[0]})")
            checked += 1
    if checked != sum(1 for q in survey if q.startswith("gpu_cluster_replicas_")):
        fail("not every replicas survey answer is read by the inventory's gpu_cluster_device_plugin_configs")
    log(f"cluster job rendered {found[0].parent}; survey replicas {survey} are in its ConfigMap")


def check_mode_run(source: str, standins: dict, work: Path) -> None:
    """site.yml --check from the controller, with the example inventory and the lab stand-ins."""
    (work / "check_standins.yml").write_text(yaml.safe_dump(standins).replace(
        "{{ playbook_dir }}/..", str(ROOT)))
    cmd = ["ansible-playbook", "playbooks/site.yml", "-i", source, "-i", str(work / "check_standins.yml"),
           "--check", "--skip-tags", "windows_host", "-e", "vault_k3s_token=" + LAB_TOKEN,
           "-e", "gpu_cluster_mode=render", "-e", f"gpu_cluster_render_dir={work}/check-rendered",
           "--private-key", str(ROOT / ".cache" / "lab" / "ssh" / "id_ed25519")]
    log("site.yml --check with the example inventory against the lab stand-ins (Windows stage skipped)")
    proc = sh(cmd, cwd=ROOT, check=False, capture_output=True, text=True)
    (work / "site-check.log").write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        tail = "\n".join(proc.stdout.splitlines()[-40:])
        fail(f"site.yml --check failed (rc {proc.returncode}); {work}/site-check.log:\n{tail}")
    words = proc.stdout.split("PLAY RECAP")[-1].split()
    log("site.yml --check passed: " + " ".join(w for w in words if not w.startswith("*")))


def show(_args) -> int:
    cfg = AwxConfig()
    print(yaml.safe_dump({
        "inventory_source": cfg.inventory_source_path,
        "job_templates": {n: {k: jt.get(k) for k in ("playbook", "job_tags", "limit", "credentials",
                                                     "become_enabled")}
                          | {"survey": cfg.survey_answers(n)} for n, jt in cfg.job_templates.items()},
        "workflow": cfg.workflow_graph(),
        "success_path": cfg.workflow_path(),
    }, sort_keys=False))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("show").set_defaults(func=show)
    p = sub.add_parser("lab")
    p.add_argument("--image", help="execution environment image (default: scripts/ee.py lab-build)")
    p.add_argument("--keep", action="store_true", help="leave the lab nodes running after success")
    p.set_defaults(func=lab)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
