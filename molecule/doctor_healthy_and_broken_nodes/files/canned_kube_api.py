# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""EMULATED, READ-ONLY Kubernetes API for the GPU doctor scenario. It is NOT a kube-apiserver.

There is no Kubernetes cluster in this lab. This HTTP server answers the GET requests that
kubernetes.core.k8s_info makes (API discovery, list and get, label and field selectors with
= / == / !=) from a fixed set of objects (a YAML `kind: List` of realistic k8s objects: nodes,
pods, DaemonSets, a ConfigMap, a RuntimeClass, events). Nothing changes them: any other method is
answered 405 and recorded, so a test can prove that a client only read.

Admin endpoints: GET /_canned/requests (every request seen), POST /_canned/shutdown.
Usage: python3 canned_kube_api.py --objects cluster.yml --port-file port.txt [--max-seconds 900]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import yaml

# group, version, plural, kind, namespaced
RESOURCES = [
    ("", "v1", "namespaces", "Namespace", False),
    ("", "v1", "nodes", "Node", False),
    ("", "v1", "pods", "Pod", True),
    ("", "v1", "configmaps", "ConfigMap", True),
    ("", "v1", "events", "Event", True),
    ("apps", "v1", "daemonsets", "DaemonSet", True),
    ("node.k8s.io", "v1", "runtimeclasses", "RuntimeClass", False),
]
VERSION = {"major": "1", "minor": "31", "gitVersion": "v1.31.4+k3s1 (canned, not a kube-apiserver)",
           "platform": "linux/amd64"}


def field_value(obj, path):
    for key in path.split("."):
        if not isinstance(obj, dict):
            return ""
        obj = obj.get(key)
    return "" if obj is None else str(obj)


def selector_matches(text, getter):
    for term in [t for t in (text or "").split(",") if t.strip()]:
        match = re.match(r"^\s*([^!=\s]+)\s*(!=|==|=)\s*(.*?)\s*$", term)
        if not match:
            raise ValueError("unsupported selector term %r" % term)
        key, op, value = match.groups()
        found = getter(key)
        if (op == "!=") == (found == value):
            return False
    return True


class Store:
    def __init__(self, objects):
        self.items = {}
        for obj in objects:
            kind = obj["kind"]
            res = [r for r in RESOURCES if r[3] == kind]
            if not res:
                raise SystemExit("canned_kube_api: unsupported kind %s" % kind)
            self.items.setdefault(res[0][2], []).append(obj)
        self.requests = []
        self.lock = threading.Lock()

    def select(self, plural, namespace, name, labels, fields):
        out = []
        for obj in self.items.get(plural, []):
            meta = obj.get("metadata") or {}
            if namespace and meta.get("namespace") != namespace:
                continue
            if name and meta.get("name") != name:
                continue
            if not selector_matches(labels, lambda k: str((meta.get("labels") or {}).get(k, "\0absent"))):
                continue
            if not selector_matches(fields, lambda k: field_value(obj, k)):
                continue
            out.append(obj)
        return out


class Handler(BaseHTTPRequestHandler):
    store = None
    server_version = "canned-kube-api/1 (EMULATED, read only)"

    def log_message(self, fmt, *args):
        pass

    def reply(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def status(self, code, reason, message):
        self.reply(code, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                          "message": message, "reason": reason, "code": code})

    def refuse(self):
        self.store.requests.append({"method": self.command, "path": self.path})
        self.status(405, "MethodNotAllowed", "canned_kube_api is read only")

    do_POST = do_PUT = do_PATCH = do_DELETE = refuse

    def do_GET(self):
        url = urlparse(self.path)
        if url.path == "/_canned/requests":
            return self.reply(200, self.store.requests)
        self.store.requests.append({"method": "GET", "path": self.path})
        try:
            body = self.discovery(url.path)
            if body is None:
                body = self.read(url.path, parse_qs(url.query))
        except LookupError as exc:
            return self.status(404, "NotFound", str(exc))
        except ValueError as exc:
            return self.status(400, "BadRequest", str(exc))
        return self.reply(200, body)

    def discovery(self, path):
        if path == "/version":
            return VERSION
        if path == "/api":
            return {"kind": "APIVersions", "versions": ["v1"],
                    "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]}
        if path == "/apis":
            groups = sorted(set((g, v) for g, v, _p, _k, _n in RESOURCES if g))
            return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
                {"name": g, "versions": [{"groupVersion": "%s/%s" % (g, v), "version": v}],
                 "preferredVersion": {"groupVersion": "%s/%s" % (g, v), "version": v}} for g, v in groups]}
        match = re.match(r"^/api/(v1)$|^/apis/([^/]+)/([^/]+)$", path)
        if match:
            group, version = ("", "v1") if match.group(1) else (match.group(2), match.group(3))
            found = [r for r in RESOURCES if r[0] == group and r[1] == version]
            if not found:
                raise LookupError("the server could not find the requested resource")
            return {"kind": "APIResourceList", "apiVersion": "v1",
                    "groupVersion": "%s/%s" % (group, version) if group else version,
                    "resources": [{"name": p, "singularName": k.lower(), "namespaced": n, "kind": k,
                                   "verbs": ["get", "list"]} for _g, _v, p, k, n in found]}
        match = re.match(r"^/apis/([^/]+)$", path)
        if match:
            found = [r for r in RESOURCES if r[0] == match.group(1)]
            if not found:
                raise LookupError("the server could not find the requested resource")
            gv = {"groupVersion": "%s/%s" % (found[0][0], found[0][1]), "version": found[0][1]}
            return {"kind": "APIGroup", "apiVersion": "v1", "name": found[0][0], "versions": [gv],
                    "preferredVersion": gv}
        return None

    def read(self, path, query):
        match = re.match(r"^/api/v1/(.*)$", path) or re.match(r"^/apis/[^/]+/[^/]+/(.*)$", path)
        if not match:
            raise LookupError("the server could not find the requested resource")
        segs = [s for s in match.group(1).split("/") if s]
        namespace = None
        if len(segs) >= 3 and segs[0] == "namespaces":
            namespace, segs = segs[1], segs[2:]
        res = [r for r in RESOURCES if r[2] == segs[0]]
        if not res or len(segs) > 2:
            raise LookupError("the server could not find the requested resource")
        group, version, plural, kind, _namespaced = res[0]
        name = segs[1] if len(segs) == 2 else None
        labels = (query.get("labelSelector") or [""])[0]
        fields = (query.get("fieldSelector") or [""])[0]
        with self.store.lock:
            items = self.store.select(plural, namespace, name, labels, fields)
        if name is not None:
            if not items:
                raise LookupError('%s "%s" not found' % (plural, name))
            return items[0]
        return {"kind": kind + "List", "apiVersion": "%s/%s" % (group, version) if group else version,
                "metadata": {"resourceVersion": "1"}, "items": items}


class AdminHandler(Handler):
    def do_POST(self):
        if urlparse(self.path).path == "/_canned/shutdown":
            self.reply(200, {"ok": True})
            threading.Thread(target=self.server.shutdown, daemon=True).start()
            return None
        return self.refuse()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", required=True)
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--max-seconds", type=int, default=900, help="stop by itself after this long")
    args = parser.parse_args(argv)
    with open(args.objects) as handle:
        objects = yaml.safe_load(handle)["items"]
    AdminHandler.store = Store(objects)
    server = ThreadingHTTPServer(("127.0.0.1", 0), AdminHandler)
    server.daemon_threads = True
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as handle:
        handle.write(str(server.server_address[1]))
    os.replace(tmp, args.port_file)
    timer = threading.Timer(args.max_seconds, server.shutdown)
    timer.daemon = True
    timer.start()
    server.serve_forever(poll_interval=0.2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
