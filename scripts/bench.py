"""`make bench`: how long site.yml takes on the lab, against the ping floor.

Measures, in one run (wall-clock seconds, one run each, on this machine):
  ping3     `ansible gpu_nodes -m ping` on 3 lab nodes (the floor)
  first3    the first site.yml run on 3 fresh nodes
  rerun3    the rerun on the same nodes (must report changed=0)
  rerun9    the rerun on 9 nodes (after a first run on them)
  floor3    a play of the rerun's shape on the 3 nodes (as many tasks per host, as many of them
            ping module calls, the rest skipped no-ops): what Ansible alone costs for it
  floor9    the same play on the 9 nodes (floor9/floor3: how Ansible alone scales from 3 to 9)
Each run's controller CPU seconds are recorded too (steadier than wall time when the machine is shared).
The rerun's tasks per host (ok + skipped, from the recap) and remote module calls per host
(one extra -vvv rerun, untimed) are printed and written too.
and prints and writes the ratios to .cache/bench/bench.json.
Aims: rerun3 <= 6 x ping3; rerun9 <= 1.8 x rerun3.
Nodes are reached over SSH with pipelining (scripts/lab_inventory.py); `--podman` measures
through the podman connection instead. Each site.yml log (.cache/bench/<label>.log) ends
with the ansible.posix.profile_tasks table: the slowest tasks first.
Run through the Makefile (venv on PATH, CONTAINERS_CONF set).
"""

from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, ".cache", "bench")
LAB_VARS = os.path.join(ROOT, "inventory", "lab", "group_vars")


LAST_CPU = {"seconds": 0.0}


def run(argv, env=None, check=True):
    start = time.monotonic()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          check=False)
    elapsed = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # the controller's CPU seconds (user + system of the run and its children): steadier than wall time on a
    # machine that other work shares; the nodes' own CPU is not in it
    LAST_CPU["seconds"] = round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 2)
    if check and proc.returncode != 0:
        sys.stdout.write(proc.stdout[-6000:])
        raise SystemExit("bench: %s failed (rc=%d)" % (" ".join(argv), proc.returncode))
    return elapsed, proc.stdout


CONNECTION = "podman" if "--podman" in sys.argv[1:] else "ssh"


def inventory(count):
    directory = os.path.join(OUT, "inv%d" % count)
    flags = ["--podman"] if CONNECTION == "podman" else []
    subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "lab_inventory.py")] + flags + [str(count), directory],
                   check=True)
    link = os.path.join(directory, "group_vars")
    if not os.path.islink(link):
        os.symlink(LAB_VARS, link)
    inv = os.path.join(directory, "hosts.yml")
    names = subprocess.run(["ansible", "gpu_nodes", "-i", inv, "--list-hosts"], cwd=ROOT, check=True,
                           stdout=subprocess.PIPE, text=True).stdout.split()[2:]
    return inv, names


def recap(output):
    changed = sum(int(n) for n in re.findall(r"changed=(\d+)", output.split("PLAY RECAP")[-1]))
    failed = sum(int(n) for n in re.findall(r"failed=(\d+)", output.split("PLAY RECAP")[-1]))
    return changed, failed


def site(inv, label, results):
    env = dict(os.environ, ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_tasks", PROFILE_TASKS_TASK_OUTPUT_LIMIT="25")
    seconds, output = run(["ansible-playbook", "-i", inv, "playbooks/site.yml", "--skip-tags", "windows_host"], env=env)
    changed, failed = recap(output)
    results[label] = {"seconds": round(seconds, 2), "changed": changed, "failed": failed,
                      "controller_cpu_seconds": LAST_CPU["seconds"]}
    print("bench: %-7s %6.1fs changed=%d (controller CPU %.1fs)" % (label, seconds, changed, LAST_CPU["seconds"]))
    with open(os.path.join(OUT, "%s.log" % label), "w") as f:
        f.write(output)


# --- per-host work on the rerun: tasks (ok + skipped from the recap) and remote module calls ---------------------
def tasks_per_host(output):
    """host -> {ok, skipped, tasks} from the PLAY RECAP of one run (localhost, the kube_api play, left out)."""
    out = {}
    for host, ok, skipped in re.findall(r"^(\S+)\s+: ok=(\d+)\s+changed=\d+\s+unreachable=\d+\s+failed=\d+\s+"
                                        r"skipped=(\d+)", output.split("PLAY RECAP")[-1], re.M):
        if host != "localhost":
            out[host] = {"ok": int(ok), "skipped": int(skipped), "tasks": int(ok) + int(skipped)}
    return out


def module_calls(inv, hosts):
    """Remote round trips per host on a rerun (-vvv: one `SSH: EXEC` per module run or command) and the modules run
    (`Using module file`, divided by the number of hosts). An extra, untimed run."""
    output = run(["ansible-playbook", "-vvv", "-i", inv, "playbooks/site.yml", "--skip-tags", "windows_host"])[1]
    execs = dict((host, len(re.findall(r"^<%s> SSH: EXEC" % re.escape(host), output, re.M))) for host in hosts)
    # a module's name, then the host it runs on: the next `<host>` line (forks may interleave: an estimate)
    modules, pending = {}, []
    for line in output.splitlines():
        found = re.match(r"Using module file \S+/([^/\s]+)\.py", line)
        if found:
            pending.append(found.group(1))
            continue
        found = re.match(r"<([^>]+)> ", line)
        if found and pending:
            name = pending.pop(0)
            if found.group(1) in hosts:
                modules[name] = modules.get(name, 0) + 1
    per_host = dict((name, round(count / float(len(hosts)), 2)) for name, count in sorted(modules.items()))
    return {"remote_execs_per_host": execs, "modules_per_host": per_host,
            "module_calls_per_host": round(sum(modules.values()) / float(len(hosts)), 2)}


# --- the floor: the rerun's shape (tasks and module calls per host) with nothing in it ----------------------------
def floor(inv, tasks, calls, results, label="floor3"):
    """Time one play on the same nodes with ``calls`` ping module calls and ``tasks - calls`` skipped no-op tasks per
    host: what ansible itself costs for a rerun of that shape, whatever the roles do."""
    path = os.path.join(OUT, "floor.yml")
    lines = ["---", "- name: Floor - %d tasks per host, %d of them module calls" % (tasks, calls),
             "  hosts: gpu_nodes", "  gather_facts: false", "  tasks:"]
    for i in range(calls):
        lines += ["    - name: Module call %d" % i, "      ansible.builtin.ping:"]
    for i in range(max(tasks - calls, 0)):
        lines += ["    - name: No-op %d" % i, "      ansible.builtin.debug:", "        msg: none",
                  "      when: false"]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    seconds = run(["ansible-playbook", "-i", inv, path])[0]
    results[label] = {"seconds": round(seconds, 2), "tasks_per_host": tasks, "module_calls_per_host": calls,
                      "controller_cpu_seconds": LAST_CPU["seconds"]}
    print("bench: %-7s %6.1fs (%d tasks per host, %d module calls; controller CPU %.1fs)"
          % (label, seconds, tasks, calls, LAST_CPU["seconds"]))


def main():
    os.makedirs(OUT, exist_ok=True)
    # The bench recreates its nodes: SSH control masters of an earlier run would multiplex onto
    # removed containers and hang, so this run's masters live in a directory of its own.
    os.environ["ANSIBLE_SSH_CONTROL_PATH_DIR"] = tempfile.mkdtemp(prefix="gpu-lab-cp.", dir="/tmp")
    results = {}
    inv3, nodes3 = inventory(3)
    inv9, nodes9 = inventory(9)
    # Only the bench's own nodes are (re)created and removed: never anyone else's.
    run(["scripts/lab.sh", "down"] + nodes9, check=False)
    run(["scripts/lab.sh", "up"] + nodes3)
    run(["ansible-playbook", "-i", inv3, "lab/prepare.yml"])
    seconds = run(["ansible", "gpu_nodes", "-i", inv3, "-m", "ansible.builtin.ping"])[0]
    results["ping3"] = {"seconds": round(seconds, 2), "controller_cpu_seconds": LAST_CPU["seconds"]}
    print("bench: ping3   %6.1fs (controller CPU %.1fs)" % (seconds, LAST_CPU["seconds"]))
    site(inv3, "first3", results)
    site(inv3, "rerun3", results)
    with open(os.path.join(OUT, "rerun3.log")) as f:
        results["rerun3"]["per_host"] = tasks_per_host(f.read())
    results["rerun3"].update(module_calls(inv3, nodes3))
    print("bench: rerun3 per host: %s" % json.dumps(results["rerun3"]["per_host"], sort_keys=True))
    print("bench: rerun3 module calls per host %.2f: %s"
          % (results["rerun3"]["module_calls_per_host"], json.dumps(results["rerun3"]["modules_per_host"])))

    per_host = list(results["rerun3"]["per_host"].values())
    if per_host:
        floor(inv3, max(h["tasks"] for h in per_host), int(round(results["rerun3"]["module_calls_per_host"])),
              results)

    run(["scripts/lab.sh", "up"] + [n for n in nodes9 if n not in nodes3])
    run(["ansible-playbook", "-i", inv9, "lab/prepare.yml", "--limit", ",".join(n for n in nodes9 if n not in nodes3)])
    site(inv9, "first9", results)
    site(inv9, "rerun9", results)
    if "floor3" in results:
        floor(inv9, results["floor3"]["tasks_per_host"], results["floor3"]["module_calls_per_host"], results, "floor9")
    run(["scripts/lab.sh", "down"] + nodes9, check=False)

    results["ratios"] = {
        "rerun3_over_ping3": round(results["rerun3"]["seconds"] / results["ping3"]["seconds"], 2),
        "rerun9_over_rerun3": round(results["rerun9"]["seconds"] / results["rerun3"]["seconds"], 2),
    }
    if "floor3" in results:
        results["ratios"]["floor3_over_ping3"] = round(results["floor3"]["seconds"] / results["ping3"]["seconds"], 2)
        results["ratios"]["rerun3_over_floor3"] = round(results["rerun3"]["seconds"] / results["floor3"]["seconds"], 2)
    results["ratios"]["rerun3_over_ping3_controller_cpu"] = round(
        results["rerun3"]["controller_cpu_seconds"] / max(results["ping3"]["controller_cpu_seconds"], 0.01), 2)
    if "floor9" in results:
        results["ratios"]["floor9_over_floor3"] = round(results["floor9"]["seconds"] / results["floor3"]["seconds"], 2)
    results["aims"] = {"rerun3_over_ping3": 6.0, "rerun9_over_rerun3": 1.8}
    results["connection"] = CONNECTION
    results["rerun_changed_zero"] = results["rerun3"]["changed"] == 0 and results["rerun9"]["changed"] == 0
    name = "bench.json" if CONNECTION == "ssh" else "bench-%s.json" % CONNECTION
    with open(os.path.join(OUT, name), "w") as f:
        json.dump(results, f, indent=2, sort_keys=True)
    print(json.dumps(results["ratios"], indent=2))
    print("bench: written to %s" % os.path.join(OUT, name))
    return 0 if results["rerun_changed_zero"] else 1


if __name__ == "__main__":
    sys.exit(main())
