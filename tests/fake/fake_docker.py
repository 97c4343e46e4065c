# (Run through the tests/fake/docker shell wrapper.)
# STAND-IN `docker` for homelab.gpu_node lab nodes. It is NOT Docker: lab nodes are
# unprivileged podman containers without registry access, where dockerd cannot run
# and no image can be pulled. It answers only what the gpu_compose role asks:
#   docker version --format {{.Server.Version}}   server_version from the config, or the
#                                                  real "Cannot connect to the Docker daemon"
#                                                  message (exit 1) when it is ""
#   docker info --format {{json .Runtimes}}        runc + io.containerd.runc.v2 + the
#                                                  "runtimes" of /etc/docker/daemon.json (the
#                                                  file containerd_nvidia_runtime engine=docker writes)
#   docker compose ... config ...                  runs the REAL Compose v2 CLI ("compose" in the
#                                                  config: Debian's docker-compose 2.x), so the
#                                                  compose file is parsed and validated for real
#   docker compose -p P -f F up -d                 records P as running with F's sha256 (starts
#                                                  nothing); ps -q prints an id while recorded
#   docker compose -p P -f F down                  forgets P
# Configured by /etc/fake-docker.json: {"server_version": "26.1.5", "compose": PATH,
#   "state": "/var/lib/fake-docker", "calls": "/var/log/fake-docker.calls",
#   "daemon_json": "/etc/docker/daemon.json"}. Every call is logged (argv, one line).
import hashlib
import json
import os
import sys

CONF = os.environ.get("FAKE_DOCKER_CONF", "/etc/fake-docker.json")
NO_DAEMON = ("Cannot connect to the Docker daemon at unix:///var/run/docker.sock. "
             "Is the docker daemon running?\n")


def load_conf():
    with open(CONF) as f:
        return json.load(f)


def record(conf, argv):
    path = conf.get("calls")
    if path:
        with open(path, "a") as f:
            f.write(" ".join(argv[1:]) + "\n")


def runtimes(conf):
    found = {"io.containerd.runc.v2": {"path": "runc"}, "runc": {"path": "runc"}}
    path = conf.get("daemon_json", "/etc/docker/daemon.json")
    if os.path.exists(path):
        with open(path) as f:
            found.update(json.load(f).get("runtimes", {}))
    return found


def compose(conf, args):
    """args: what follows `docker compose`."""
    project, files, rest = None, [], []
    i = 0
    while i < len(args):
        if args[i] in ("-p", "--project-name"):
            project = args[i + 1]
            i += 2
        elif args[i] in ("-f", "--file"):
            files.append(args[i + 1])
            i += 2
        else:
            rest.append(args[i])
            i += 1
    command = rest[0] if rest else ""
    if command == "config":
        binary = conf["compose"]
        os.execv(binary, [binary] + args)
    if not project:
        sys.stderr.write("fake docker: this stand-in needs -p PROJECT for compose %s\n" % command)
        return 2
    state = os.path.join(conf.get("state", "/var/lib/fake-docker"), project + ".json")
    if command == "up":
        digest = ""
        if files:
            with open(files[0], "rb") as f:
                digest = hashlib.sha256(f.read()).hexdigest()
        os.makedirs(os.path.dirname(state), exist_ok=True)
        with open(state, "w") as f:
            json.dump({"files": files, "sha256": digest, "args": rest}, f)
        sys.stderr.write(" Container %s Started (fake docker: nothing runs)\n" % project)
        return 0
    if command == "ps":
        if os.path.exists(state):
            sys.stdout.write(hashlib.sha256(project.encode()).hexdigest()[:12] + "\n")
        return 0
    if command == "down":
        if os.path.exists(state):
            os.remove(state)
        return 0
    sys.stderr.write("fake docker: unsupported compose command %r (this is a stand-in)\n" % (rest,))
    return 2


def main(argv):
    conf = load_conf()
    record(conf, argv)
    args = argv[1:]
    if args[:1] == ["compose"]:
        return compose(conf, args[1:])
    version = conf.get("server_version", "26.1.5")
    if args[:1] in (["version"], ["info"]) and not version:
        sys.stderr.write(NO_DAEMON)
        return 1
    if args == ["version", "--format", "{{.Server.Version}}"]:
        sys.stdout.write(version + "\n")
        return 0
    if args == ["info", "--format", "{{json .Runtimes}}"]:
        sys.stdout.write(json.dumps(runtimes(conf), sort_keys=True) + "\n")
        return 0
    sys.stderr.write("fake docker: unsupported arguments %r (this is a stand-in)\n" % (args,))
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
