#!/usr/bin/env python3
"""Consistency checks of deploy/ and docs/operations.md that no off-the-shelf
linter makes. Run by deploy/check.sh (needs PyYAML, jsonschema and
kubernetes-validate, which check.sh installs).

kubernetes   every manifest under deploy/k8s validated against the Kubernetes
             API schemas (kubernetes-validate, strict: unknown fields fail) for
             the oldest and newest supported versions; KEDA objects against a
             schema of the fields used here; kustomizations' resources and
             patch targets exist; references resolve (ConfigMap, Secret and
             key, Service and PodDisruptionBudget selectors, named ports,
             autoscaler targets); probes are /ready and /health on the port
             the container's bt listens on; every container has requests and
             limits; terminationGracePeriodSeconds exceeds
             BT_SHUTDOWN_GRACE_SECONDS.
settings     every BT_* variable in compose.yaml, the Kubernetes ConfigMap and
             Deployments, and the Dockerfile is one that bt reads (from the
             source: clap `env = "..."`), and docs/operations.md documents
             every variable bt reads.
grafana      dashboards are valid JSON with unique panel ids and use the
             provisioned data source uid.
compose      the grace periods match: stop_grace_period exceeds the
             service's BT_SHUTDOWN_GRACE_SECONDS.
"""

from __future__ import annotations

import glob
import json
import os
import re
import sys

import jsonschema
import kubernetes_validate
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
K8S = os.path.join(HERE, "k8s")
K8S_VERSIONS = ["1.30.0", "1.37.0"]

errors: list = []

# Variables of the deployment files themselves, not of bt: the compose image
# name, the health check's host, compose_run.py's PostgreSQL and binary.
DEPLOY_VARIABLES = {"BT_IMAGE", "BT_HEALTH_HOST", "BT_COMPOSE_PG", "BT"}


def err(where: str, msg: str) -> None:
    errors.append(f"{where}: {msg}")


def rel(p: str) -> str:
    return os.path.relpath(p, REPO)


def load_all(path: str) -> list:
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


# ------------------------------------------------------------------ KEDA schema (the fields used)

KEDA_SCALED_OBJECT = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "keda.sh/v1alpha1"},
        "kind": {"const": "ScaledObject"},
        "metadata": {"type": "object", "required": ["name"]},
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "required": ["scaleTargetRef", "triggers"],
            "properties": {
                "scaleTargetRef": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["name"],
                    "properties": {
                        "apiVersion": {"type": "string"},
                        "kind": {"type": "string"},
                        "name": {"type": "string"},
                        "envSourceContainerName": {"type": "string"},
                    },
                },
                "pollingInterval": {"type": "integer", "minimum": 1},
                "cooldownPeriod": {"type": "integer", "minimum": 0},
                "initialCooldownPeriod": {"type": "integer", "minimum": 0},
                "idleReplicaCount": {"type": "integer", "minimum": 0},
                "minReplicaCount": {"type": "integer", "minimum": 0},
                "maxReplicaCount": {"type": "integer", "minimum": 1},
                "fallback": {"type": "object"},
                "advanced": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "restoreToOriginalReplicaCount": {"type": "boolean"},
                        "horizontalPodAutoscalerConfig": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {"name": {"type": "string"}, "behavior": {"type": "object"}},
                        },
                        "scalingModifiers": {"type": "object"},
                    },
                },
                "triggers": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["type", "metadata"],
                        "properties": {
                            "type": {"type": "string"},
                            "name": {"type": "string"},
                            "useCachedMetrics": {"type": "boolean"},
                            "metricType": {"enum": ["AverageValue", "Value", "Utilization"]},
                            "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
                            "authenticationRef": {
                                "type": "object",
                                "additionalProperties": False,
                                "required": ["name"],
                                "properties": {"name": {"type": "string"}, "kind": {"type": "string"}},
                            },
                        },
                    },
                },
            },
        },
    },
}

KEDA_TRIGGER_AUTH = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "keda.sh/v1alpha1"},
        "kind": {"const": "TriggerAuthentication"},
        "metadata": {"type": "object", "required": ["name"]},
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "secretTargetRef": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["parameter", "name", "key"],
                        "properties": {
                            "parameter": {"type": "string"},
                            "name": {"type": "string"},
                            "key": {"type": "string"},
                        },
                    },
                },
                "env": {"type": "array"},
                "podIdentity": {"type": "object"},
            },
        },
    },
}

# KEDA postgresql scaler: the metadata keys it knows.
KEDA_POSTGRES_KEYS = {
    "query", "targetQueryValue", "activationTargetQueryValue", "connectionFromEnv", "host", "port",
    "userName", "dbName", "sslmode", "passwordFromEnv",
}


# ------------------------------------------------------------------ settings bt reads


def bt_settings() -> set:
    """Every environment variable a clap argument of bt reads."""
    names = set()
    for p in glob.glob(os.path.join(REPO, "*", "src", "**", "*.rs"), recursive=True):
        with open(p, encoding="utf-8") as f:
            names |= set(re.findall(r'\benv\s*=\s*"([A-Z][A-Z0-9_]*)"', f.read()))
    return names


# ------------------------------------------------------------------ kubernetes


def selector_matches(sel: dict, labels: dict) -> bool:
    return bool(sel) and all(labels.get(k) == v for k, v in sel.items())


def check_kubernetes(known: set) -> dict:
    objects = []  # (file, obj)
    kustomizations = sorted(glob.glob(os.path.join(K8S, "**", "kustomization.yaml"), recursive=True))
    if not kustomizations:
        err("deploy/k8s", "no kustomization.yaml")
    referenced = set()
    for k in kustomizations:
        d = os.path.dirname(k)
        (kz,) = load_all(k)
        for r in kz.get("resources") or []:
            p = os.path.normpath(os.path.join(d, r))
            if os.path.isdir(p):
                if not os.path.exists(os.path.join(p, "kustomization.yaml")):
                    err(rel(k), f"resource {r} is a directory without kustomization.yaml")
            elif os.path.isfile(p):
                referenced.add(p)
            else:
                err(rel(k), f"resource {r} does not exist")
    for p in sorted(glob.glob(os.path.join(K8S, "**", "*.yaml"), recursive=True)):
        if os.path.basename(p) == "kustomization.yaml":
            continue
        docs = load_all(p)
        if p not in referenced:
            # Not a Kubernetes object (e.g. Helm values): parsed only.
            if any(isinstance(d, dict) and "apiVersion" in d and "kind" in d for d in docs):
                err(rel(p), "holds Kubernetes objects but no kustomization lists it")
            continue
        for d in docs:
            objects.append((p, d))

    by_kind: dict = {}
    for p, o in objects:
        by_kind.setdefault(o.get("kind"), []).append((p, o))
        where = f"{rel(p)} {o.get('kind')}/{(o.get('metadata') or {}).get('name')}"
        api = o.get("apiVersion", "")
        if api.startswith("keda.sh/"):
            schema = {"ScaledObject": KEDA_SCALED_OBJECT, "TriggerAuthentication": KEDA_TRIGGER_AUTH}.get(o["kind"])
            if not schema:
                err(where, "no schema for this KEDA kind")
                continue
            for e in jsonschema.Draft202012Validator(schema).iter_errors(o):
                err(where, f"{'.'.join(map(str, e.path))}: {e.message}")
            continue
        for v in K8S_VERSIONS:
            try:
                kubernetes_validate.validate(o, v, strict=True)
            except kubernetes_validate.ValidationError as e:
                err(where, f"Kubernetes {v}: {'.'.join(map(str, e.path))}: {e.message}")
            except kubernetes_validate.SchemaNotFoundError:
                err(where, f"Kubernetes {v} has no {api} {o.get('kind')}")

    def named(kind):
        return {(o.get("metadata") or {}).get("name"): o for _, o in by_kind.get(kind, [])}

    cms, secrets, deps, svcs = named("ConfigMap"), named("Secret"), named("Deployment"), named("Service")
    config = {}
    for cm in cms.values():
        config.update(cm.get("data") or {})

    def secret_has(name, key):
        s = secrets.get(name)
        return s is not None and key in {**(s.get("stringData") or {}), **(s.get("data") or {})}

    workloads = [(n, o["spec"]["template"]) for n, o in deps.items()] + [
        (n, o["spec"]["template"]) for n, o in named("Job").items()
    ]
    grace_needed = float(config.get("BT_SHUTDOWN_GRACE_SECONDS", 30))
    roles = set()
    for name, tpl in workloads:
        spec = tpl["spec"]
        for c in spec.get("containers", []):
            where = f"{name}/{c['name']}"
            args = c.get("args") or c.get("command") or []
            role = args[0] if args else "serve"
            roles.add(role)
            if role not in ("serve", "work", "migrate"):
                err(where, f"runs `bt {role}`, not serve, work or migrate")
            if c.get("image") != "bt":
                err(where, f"image {c.get('image')!r}: use `bt` (kustomization `images` sets the real one)")
            res = c.get("resources") or {}
            for part in ("requests", "limits"):
                for r in ("cpu", "memory"):
                    if r not in (res.get(part) or {}):
                        err(where, f"no resources.{part}.{r}")
            env = {}
            for ef in c.get("envFrom") or []:
                ref = (ef.get("configMapRef") or {}).get("name")
                if ref and ref not in cms:
                    err(where, f"envFrom ConfigMap {ref} does not exist")
                elif ref:
                    env.update(cms[ref].get("data") or {})
            for e in c.get("env") or []:
                env[e["name"]] = e.get("value", "<from>")
                skr = (e.get("valueFrom") or {}).get("secretKeyRef")
                if skr and not secret_has(skr["name"], skr["key"]):
                    err(where, f"Secret {skr['name']} has no key {skr['key']}")
                rfr = (e.get("valueFrom") or {}).get("resourceFieldRef")
                if rfr and rfr.get("containerName") != c["name"]:
                    err(where, f"{e['name']}: resourceFieldRef names container {rfr.get('containerName')}")
            for k in env:
                if (k.startswith("BT_") or k == "DATABASE_URL") and k not in known:
                    err(where, f"{k} is not a setting bt reads")
            if "DATABASE_URL" not in env:
                err(where, "no DATABASE_URL")
            if role == "migrate":
                continue
            addr_var = "BT_API_ADDR" if role == "serve" else "BT_HTTP_ADDR"
            addr = env.get(addr_var, "")
            if not re.fullmatch(r"0\.0\.0\.0:\d+", addr):
                err(where, f"{addr_var} is {addr!r}: listen on 0.0.0.0:PORT in a pod")
                continue
            port = int(addr.rsplit(":", 1)[1])
            ports = {p.get("name"): p["containerPort"] for p in c.get("ports") or []}
            if port not in ports.values():
                err(where, f"{addr_var} port {port} is not a containerPort")
            for probe, path in (("readinessProbe", "/ready"), ("livenessProbe", "/health")):
                g = (c.get(probe) or {}).get("httpGet")
                if not g:
                    err(where, f"no {probe} httpGet")
                    continue
                pp = ports.get(g["port"], g["port"])
                if g.get("path") != path or pp != port:
                    err(where, f"{probe} is {g.get('path')} on {g['port']}, expected {path} on {port}")
            tg = spec.get("terminationGracePeriodSeconds", 30)
            if tg < grace_needed + 10:
                err(where, f"terminationGracePeriodSeconds {tg} is not BT_SHUTDOWN_GRACE_SECONDS "
                           f"({grace_needed:g}) plus at least 10 s to release jobs and exit")
    for r in ("serve", "work", "migrate"):
        if r not in roles:
            err("deploy/k8s/base", f"nothing runs `bt {r}`")

    for n, s in svcs.items():
        sel = s["spec"].get("selector") or {}
        targets = [d for d in deps.values() if selector_matches(sel, d["spec"]["template"]["metadata"].get("labels", {}))]
        if not targets:
            err(f"Service/{n}", "selects no Deployment's pods")
        for p in s["spec"].get("ports") or []:
            tp = p.get("targetPort")
            for d in targets:
                names = {cp.get("name") for c in d["spec"]["template"]["spec"]["containers"] for cp in c.get("ports") or []}
                nums = {cp["containerPort"] for c in d["spec"]["template"]["spec"]["containers"] for cp in c.get("ports") or []}
                if tp not in names and tp not in nums:
                    err(f"Service/{n}", f"targetPort {tp} is no port of Deployment {d['metadata']['name']}")
    for _, pdb in by_kind.get("PodDisruptionBudget", []):
        sel = pdb["spec"]["selector"].get("matchLabels") or {}
        if not any(selector_matches(sel, d["spec"]["template"]["metadata"].get("labels", {})) for d in deps.values()):
            err(f"PodDisruptionBudget/{pdb['metadata']['name']}", "selects no Deployment's pods")
    for n, d in deps.items():
        if not selector_matches(d["spec"]["selector"]["matchLabels"], d["spec"]["template"]["metadata"].get("labels", {})):
            err(f"Deployment/{n}", "selector does not match its template's labels")

    # Autoscalers and the overlays' patches.
    for kind in ("ScaledObject", "HorizontalPodAutoscaler"):
        for p, o in by_kind.get(kind, []):
            where = f"{rel(p)} {kind}/{o['metadata']['name']}"
            ref = o["spec"]["scaleTargetRef"]["name"]
            if ref not in deps:
                err(where, f"scaleTargetRef {ref} is no Deployment")
            lo = o["spec"].get("minReplicaCount", o["spec"].get("minReplicas", 1))
            hi = o["spec"].get("maxReplicaCount", o["spec"].get("maxReplicas"))
            if hi is None or lo > hi:
                err(where, f"replicas {lo}..{hi}")
            for t in (o["spec"].get("triggers") or []):
                if t["type"] == "postgresql":
                    unknown = set(t["metadata"]) - KEDA_POSTGRES_KEYS
                    if unknown:
                        err(where, f"postgresql trigger: unknown metadata {sorted(unknown)}")
                    if "backtest_jobs" not in t["metadata"].get("query", ""):
                        err(where, "postgresql trigger: the query does not read backtest_jobs")
                    auth = (t.get("authenticationRef") or {}).get("name")
                    tas = {x["metadata"]["name"]: x for _, x in by_kind.get("TriggerAuthentication", [])}
                    if auth and auth not in tas:
                        err(where, f"authenticationRef {auth} does not exist")
                    elif auth:
                        for s in tas[auth]["spec"].get("secretTargetRef") or []:
                            if not secret_has(s["name"], s["key"]):
                                err(where, f"TriggerAuthentication: Secret {s['name']} has no key {s['key']}")
    for k in kustomizations:
        (kz,) = load_all(k)
        for patch in kz.get("patches") or []:
            t = patch.get("target") or {}
            if t.get("kind") == "Deployment" and t.get("name") not in deps:
                err(rel(k), f"patch target Deployment/{t.get('name')} does not exist")
            for op in yaml.safe_load(patch.get("patch", "[]")) or []:
                if op.get("op") == "remove" and t.get("name") in deps:
                    node = deps[t["name"]]
                    for part in op["path"].strip("/").split("/"):
                        if not isinstance(node, dict) or part not in node:
                            err(rel(k), f"patch removes {op['path']}, which Deployment/{t['name']} lacks")
                            break
                        node = node[part]
    return {"objects": len(objects), "config": config}


# ------------------------------------------------------------------ settings, grafana, compose


def check_settings(known: set, config: dict) -> None:
    with open(os.path.join(HERE, "compose.yaml")) as f:
        compose = yaml.safe_load(f)
    for name, svc in (compose.get("services") or {}).items():
        for k in (svc.get("environment") or {}):
            if (k.startswith("BT_") or k == "DATABASE_URL") and k not in known:
                err(f"compose.yaml {name}", f"{k} is not a setting bt reads")
        env = svc.get("environment") or {}
        if "BT_SHUTDOWN_GRACE_SECONDS" in env or any("work" == c or "serve" == c for c in svc.get("command") or []):
            g = float(env.get("BT_SHUTDOWN_GRACE_SECONDS", 30))
            sgp = str(svc.get("stop_grace_period", "10s"))
            m = re.fullmatch(r"(?:(\d+)m)?(?:(\d+)s)?", sgp)
            secs = int(m.group(1) or 0) * 60 + int(m.group(2) or 0) if m else 0
            if secs < g + 5:
                err(f"compose.yaml {name}", f"stop_grace_period {sgp} is not BT_SHUTDOWN_GRACE_SECONDS ({g:g} s) + 5 s")
    with open(os.path.join(HERE, "Dockerfile")) as f:
        for k in re.findall(r"\b(BT_[A-Z0-9_]+)=", f.read()):
            if k not in known:
                err("Dockerfile", f"ENV {k} is not a setting bt reads")
    with open(os.path.join(REPO, "docs", "operations.md"), encoding="utf-8") as f:
        doc = f.read()
    for k in sorted(known):
        if f"`{k}`" not in doc:
            err("docs/operations.md", f"does not document `{k}`")
    for k in sorted(set(re.findall(r"`(BT_[A-Z0-9_]+)`", doc))):
        if k not in known and k not in DEPLOY_VARIABLES:
            err("docs/operations.md", f"documents `{k}`, which bt does not read")


def slug(heading: str) -> str:
    """GitHub's heading anchor."""
    s = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return s.replace(" ", "-")


def check_runbook_links() -> None:
    """Links to docs/operations.md anchors (alert annotations, the document's
    own links) name headings that exist."""
    with open(os.path.join(REPO, "docs", "operations.md"), encoding="utf-8") as f:
        doc = f.read()
    anchors = {slug(h) for h in re.findall(r"^#+\s+(.*)$", doc, re.M)}
    links = [("docs/operations.md", a) for a in re.findall(r"\]\(#([^)]+)\)", doc)]
    for p in [os.path.join(HERE, "prometheus", "alerts.yml")] + glob.glob(os.path.join(HERE, "k8s", "**", "*.yaml"), recursive=True):
        with open(p) as f:
            links += [(rel(p), a) for a in re.findall(r"operations\.md#([\w-]+)", f.read())]
    for where, a in links:
        if a not in anchors:
            err(where, f"links to operations.md#{a}, which is no heading")
    if not links:
        err("deploy/prometheus/alerts.yml", "no runbook links")


def check_grafana() -> None:
    ds_uids = set()
    for p in glob.glob(os.path.join(HERE, "grafana", "provisioning", "datasources", "*.y*ml")):
        for d in load_all(p):
            ds_uids |= {x.get("uid") for x in d.get("datasources") or []}
    dashes = sorted(glob.glob(os.path.join(HERE, "grafana", "dashboards", "*.json")))
    if not dashes:
        err("deploy/grafana/dashboards", "no dashboard")
    for p in dashes:
        with open(p) as f:
            try:
                d = json.load(f)
            except json.JSONDecodeError as e:
                err(rel(p), f"invalid JSON: {e}")
                continue
        ids = []

        def walk(panels):
            for x in panels or []:
                ids.append(x.get("id"))
                ds = x.get("datasource")
                if isinstance(ds, dict) and ds.get("uid") not in ds_uids:
                    err(rel(p), f"panel {x.get('title')!r} uses data source {ds.get('uid')!r}, not provisioned")
                for t in x.get("targets") or []:
                    if x.get("type") != "row" and not t.get("expr"):
                        err(rel(p), f"panel {x.get('title')!r} has a target without expr")
                walk(x.get("panels"))

        walk(d.get("panels"))
        dup = {i for i in ids if ids.count(i) > 1}
        if dup or None in ids:
            err(rel(p), f"panel ids must be unique and set (duplicates: {sorted(dup)})")
        if not d.get("uid") or not d.get("title"):
            err(rel(p), "no uid or title")


def main() -> int:
    known = bt_settings()
    if "DATABASE_URL" not in known or "BT_HTTP_ADDR" not in known:
        err("bt source", f"could not read bt's settings (found {sorted(known)})")
    k = check_kubernetes(known)
    print(f"lint: kubernetes: {k['objects']} objects validated against Kubernetes {', '.join(K8S_VERSIONS)} "
          "(strict) and KEDA schemas; references, probes, resources, grace periods checked")
    check_settings(known, k["config"])
    print(f"lint: settings: {len(known)} variables bt reads; compose, ConfigMap, Deployments, Dockerfile and "
          "docs/operations.md agree with them")
    check_runbook_links()
    print("lint: runbook links from the alerts and the document resolve to headings")
    check_grafana()
    print("lint: grafana: dashboards parse, panel ids unique, data source provisioned")
    for e in errors:
        print(f"lint: ERROR {e}")
    print(f"lint: {'FAILED' if errors else 'ok'} ({len(errors)} errors)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
