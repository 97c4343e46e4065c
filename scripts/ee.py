"""The AWX execution environment (EE) of homelab.gpu_node, built for real.

    .venv/bin/python scripts/ee.py collection   build ee/dist/homelab-gpu_node-<version>.tar.gz
    .venv/bin/python scripts/ee.py lab-build    build (or reuse) the lab EE image; prints its name
    .venv/bin/python scripts/ee.py lab-image    print the lab EE image name of the current inputs

`execution-environment.yml` is the definition users build (a Fedora base image,
collections from Galaxy). This lab cannot reach Galaxy or a container registry,
so `lab-build` GENERATES a variant of it (.cache/ee/build/execution-environment.yml)
from the same lists, changing only where things come from:

- base image: localhost/homelab-ee-base, the lab's Debian image
  (localhost/gpu-node-lab, scripts/lab.sh) with pip bootstrapped from a wheel;
- the collections of collections/requirements.yml: copied from the pinned
  `ansible` PyPI package in .venv (their versions must satisfy the requirements);
- every Python package (ansible-core, ansible-runner, ee/requirements.txt, what
  the collections declare, ansible-builder's own helpers): `pip download`ed on
  the host into .cache/ee/wheels and installed in the build with --no-index;
- ee/bindep.txt: nothing may be missing (the build has no network; the package
  manager stand-in fails on any package that is not already in the base image).

The image tag is a hash of every input (the generated definition, the wheels,
the collections' FILES.json, the collection tarball's FILES.json, the base
recipe): an image that exists is reused. Any failure fails the build.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "ee"
EE_FILE = ROOT / "execution-environment.yml"
EE_IMAGE_REPO = "localhost/homelab-gpu-node-ee"
BASE_IMAGE_REPO = "localhost/homelab-ee-base"
LAB_IMAGE = "localhost/gpu-node-lab"
# ansible-builder's builder stage installs these itself (introspection, wheels);
# the final stage installs dumb-init (pinned by ansible-builder 3.2).
BUILDER_HELPERS = ["bindep", "pyyaml", "packaging", "dumb-init==1.2.5", "setuptools", "wheel"]

# The package manager ansible-builder calls in the lab build (options.package_manager_path).
PKGMGR_STANDIN = """#!/bin/sh
# ansible-builder calls "$PKGMGR install -y PKG..." and "$PKGMGR clean all".
# The lab build has no network: every package must already be installed.
set -eu
cmd=$1; shift
case "$cmd" in
  install)
    missing=""
    for p in "$@"; do
      case "$p" in -*) continue ;; esac
      dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
    done
    if [ -n "$missing" ]; then
      echo "ee-pkgmgr: not in the base image and the lab build has no network:$missing" >&2
      exit 1
    fi ;;
  clean) apt-get clean ;;
  *) echo "ee-pkgmgr: unknown command $cmd" >&2; exit 2 ;;
esac
"""

BASE_CONTAINERFILE = """FROM {lab_image}
COPY {pip_wheel} /tmp/
RUN rm -f /usr/lib/python3*/EXTERNALLY-MANAGED \\
 && python3 /tmp/{pip_wheel}/pip install --no-index --no-cache-dir /tmp/{pip_wheel} \\
 && rm -f /tmp/{pip_wheel}
COPY ee-pkgmgr /usr/local/bin/ee-pkgmgr
RUN chmod 0755 /usr/local/bin/ee-pkgmgr
"""


def log(msg: str) -> None:
    print(f"ee: {msg}", file=sys.stderr, flush=True)


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, **kw)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load_yaml(path: Path):
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def requirement_lines(path: Path) -> list[str]:
    lines = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            lines.append(line)
    return lines


def venv_python() -> Path:
    return ROOT / ".venv" / "bin" / "python"


def venv_collections_root() -> Path:
    """Where the pinned `ansible` PyPI package keeps its collections."""
    out = subprocess.run(
        [str(venv_python()), "-c",
         "import ansible_collections, os; print(os.path.dirname(list(ansible_collections.__path__)[0]))"],
        check=True, capture_output=True, text=True).stdout.strip()
    return Path(out) / "ansible_collections"


# --- the collection ---------------------------------------------------------------

def build_collection() -> Path:
    """ansible-galaxy collection build into ee/dist (one tarball, the current version)."""
    galaxy = load_yaml(ROOT / "galaxy.yml")
    dist = ROOT / "ee" / "dist"
    dist.mkdir(parents=True, exist_ok=True)
    for old in dist.glob("*.tar.gz"):
        old.unlink()
    run([str(ROOT / ".venv" / "bin" / "ansible-galaxy"), "collection", "build", "--force",
         "--output-path", str(dist), str(ROOT)], stdout=subprocess.DEVNULL)
    tarball = dist / f"{galaxy['namespace']}-{galaxy['name']}-{galaxy['version']}.tar.gz"
    if not tarball.is_file():
        raise SystemExit(f"ee: ansible-galaxy collection build did not write {tarball}")
    return tarball


def tarball_files_json(tarball: Path) -> bytes:
    """FILES.json lists every file with its sha256: a content hash of the collection."""
    with tarfile.open(tarball) as tar:
        member = tar.extractfile("FILES.json")
        if member is None:
            raise SystemExit(f"ee: {tarball} has no FILES.json")
        return member.read()


# --- the lab variant -----------------------------------------------------------------

def lab_definition(user: dict, base_image: str, ansible_steps_from_galaxy: list[str]) -> dict:
    """The lab build's definition, derived from the user-facing one."""
    deps = dict(user["dependencies"])
    deps.pop("galaxy", None)
    deps["python"] = "requirements.txt"
    deps["system"] = "bindep.txt"
    steps = dict(user.get("additional_build_steps") or {})
    # The user build installs homelab.gpu_node in the galaxy stage; without Galaxy
    # there is no galaxy stage, so the same steps run at the end of the base stage
    # (every later stage starts from it).
    galaxy_steps = steps.pop("append_galaxy", [])
    lab = {
        "version": 3,
        "images": {"base_image": {"name": base_image}},
        "options": {
            "skip_pip_install": True,  # pip is in the base image already
            "package_manager_path": "/usr/local/bin/ee-pkgmgr",
        },
        "dependencies": deps,
        "additional_build_files": [
            {"src": "wheels", "dest": "wheels"},
            {"src": "collections", "dest": "collections"},
        ] + [{"src": f["src"].replace("ee/dist", "dist"), "dest": f["dest"]}
             for f in user.get("additional_build_files", [])],
        "additional_build_steps": {
            "prepend_base": [
                "COPY _build/wheels/ /wheels/",
                "ENV PIP_NO_INDEX=1 PIP_FIND_LINKS=/wheels PIP_DISABLE_PIP_VERSION_CHECK=1",
                "COPY _build/collections/ /usr/share/ansible/collections/",
            ] + list(steps.pop("prepend_base", [])),
            "append_base": list(steps.pop("append_base", [])) + galaxy_steps + ansible_steps_from_galaxy,
            **steps,
        },
    }
    return lab


def check_version(version: str, spec: str) -> bool:
    from packaging.specifiers import SpecifierSet
    return version in SpecifierSet(spec.replace(" ", ""), prereleases=True)


def stage_collections(dest: Path) -> list[bytes]:
    """Copy the collections of collections/requirements.yml out of the `ansible` package."""
    reqs = load_yaml(ROOT / "collections" / "requirements.yml")["collections"]
    src_root = venv_collections_root()
    manifests = []
    if dest.exists():
        shutil.rmtree(dest)
    for req in reqs:
        ns, name = req["name"].split(".")
        src = src_root / ns / name
        if not src.is_dir():
            raise SystemExit(f"ee: {req['name']} is not in the ansible package ({src_root})")
        info = json.loads((src / "MANIFEST.json").read_text())["collection_info"]
        if "version" in req and not check_version(info["version"], str(req["version"])):
            raise SystemExit(f"ee: {req['name']} {info['version']} from the ansible package does not "
                             f"satisfy collections/requirements.yml ({req['version']})")
        shutil.copytree(src, dest / "ansible_collections" / ns / name, ignore=shutil.ignore_patterns("__pycache__", "tests"))
        manifests.append((src / "FILES.json").read_bytes())
    return manifests


def introspect_python(collections_dir: Path) -> list[str]:
    """Python requirements the staged collections declare (as ansible-builder sees them)."""
    out = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "ansible-builder"), "introspect", "--sanitize", str(collections_dir)],
        check=True, capture_output=True, text=True).stdout
    data = yaml.safe_load(out.split("---", 1)[1]) if "---" in out else {}
    return [line.split("#", 1)[0].strip() for line in (data or {}).get("python") or []]


def download_wheels(requirements: list[str], wheels: Path) -> None:
    """pip download on the host, cached by the requirement list."""
    key = sha("\n".join(sorted(requirements)).encode())[:16]
    stamp = wheels / f".complete-{key}"
    if stamp.exists():
        return
    if wheels.exists():
        shutil.rmtree(wheels)
    wheels.mkdir(parents=True)
    log(f"pip download {len(requirements)} requirements into {wheels}")
    run([str(venv_python()), "-m", "pip", "download", "-q", "--only-binary=:all:",
         "--dest", str(wheels), "pip"] + requirements)
    stamp.touch()


def image_exists(name: str) -> bool:
    return subprocess.run(["podman", "image", "exists", name], check=False).returncode == 0


def lab_image_name() -> str:
    out = subprocess.run([str(ROOT / "scripts" / "lab.sh"), "image"], check=True,
                         capture_output=True, text=True).stdout.strip()
    return out.splitlines()[-1]


def build_base(wheels: Path, workdir: Path) -> str:
    lab_image = lab_image_name()
    pip_wheel = sorted(wheels.glob("pip-*.whl"))[-1]
    containerfile = BASE_CONTAINERFILE.format(lab_image=lab_image, pip_wheel=pip_wheel.name)
    tag = sha((containerfile + PKGMGR_STANDIN).encode() + pip_wheel.read_bytes())[:12]
    image = f"{BASE_IMAGE_REPO}:{tag}"
    if image_exists(image):
        return image
    ctx = workdir / "base"
    if ctx.exists():
        shutil.rmtree(ctx)
    ctx.mkdir(parents=True)
    shutil.copy2(pip_wheel, ctx / pip_wheel.name)
    (ctx / "ee-pkgmgr").write_text(PKGMGR_STANDIN)
    (ctx / "Containerfile").write_text(containerfile)
    log(f"building the base image {image} from {lab_image}")
    run(["podman", "build", "-q", "--network=none", "-t", image, str(ctx)], stdout=subprocess.DEVNULL)
    return image


def lab_build(args) -> str:
    user = load_yaml(EE_FILE)
    work = CACHE / "build"
    work.mkdir(parents=True, exist_ok=True)
    wheels = CACHE / "wheels"

    deps = user["dependencies"]
    python_reqs = requirement_lines(ROOT / deps["python"])
    tarball = build_collection()
    collections = work / "collections"
    manifests = stage_collections(collections)
    declared = introspect_python(collections)
    download_wheels([deps["ansible_core"]["package_pip"], deps["ansible_runner"]["package_pip"]]
                    + python_reqs + declared + BUILDER_HELPERS, wheels)
    base = build_base(wheels, work)

    lab = lab_definition(user, base, [])
    (work / "requirements.txt").write_text("\n".join(python_reqs) + "\n")
    shutil.copy2(ROOT / deps["system"], work / "bindep.txt")
    if (work / "wheels").is_symlink() or (work / "wheels").exists():
        (work / "wheels").unlink() if (work / "wheels").is_symlink() else shutil.rmtree(work / "wheels")
    shutil.copytree(wheels, work / "wheels", ignore=shutil.ignore_patterns(".complete-*"))
    dist = work / "dist"
    if dist.exists():
        shutil.rmtree(dist)
    dist.mkdir()
    shutil.copy2(tarball, dist / tarball.name)
    definition = yaml.safe_dump(lab, sort_keys=False)
    (work / "execution-environment.yml").write_text(
        "# GENERATED by scripts/ee.py from execution-environment.yml: do not edit.\n" + definition)

    h = hashlib.sha256()
    h.update(definition.encode())
    h.update((work / "requirements.txt").read_bytes())
    h.update((work / "bindep.txt").read_bytes())
    for whl in sorted((work / "wheels").iterdir()):
        h.update(whl.name.encode())
    for manifest in manifests:
        h.update(manifest)
    h.update(tarball_files_json(tarball))
    image = f"{EE_IMAGE_REPO}:{h.hexdigest()[:12]}"
    (CACHE / "image").write_text(image + "\n")
    if args.print_only:
        return image
    if image_exists(image):
        log(f"{image} is up to date (inputs unchanged)")
        return image
    log(f"building {image} with ansible-builder (podman, no network)")
    run([str(ROOT / ".venv" / "bin" / "ansible-builder"), "build", "--container-runtime", "podman",
         "-f", str(work / "execution-environment.yml"), "-c", str(work / "context"),
         "-t", image, "--extra-build-cli-args=--network=none", "-v", "1"], cwd=work)
    run(["podman", "tag", image, f"{EE_IMAGE_REPO}:latest"])
    # Keep only this image of the repo (and :latest).
    old = subprocess.run(["podman", "images", "--format", "{{.Repository}}:{{.Tag}}", EE_IMAGE_REPO],
                         capture_output=True, text=True, check=True).stdout.split()
    for name in old:
        if name not in (image, f"{EE_IMAGE_REPO}:latest"):
            subprocess.run(["podman", "rmi", name], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    remove_build_stages()
    return image


def remove_build_stages() -> None:
    """Drop the untagged stage images this build left (they carry the lab build's PIP_FIND_LINKS)."""
    dangling = subprocess.run(["podman", "images", "-f", "dangling=true", "-q"], capture_output=True, text=True,
                              check=True).stdout.split()
    for image_id in dangling:
        env = subprocess.run(["podman", "image", "inspect", image_id, "--format", "{{json .Config.Env}}"],
                             capture_output=True, text=True, check=False).stdout
        if "PIP_FIND_LINKS=/wheels" in env:
            subprocess.run(["podman", "rmi", image_id], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           check=False)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("collection")
    build = sub.add_parser("lab-build")
    build.set_defaults(print_only=False)
    image = sub.add_parser("lab-image")
    image.set_defaults(print_only=True)
    args = parser.parse_args(argv)
    os.chdir(ROOT)
    if args.cmd == "collection":
        print(build_collection())
    else:
        print(lab_build(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
