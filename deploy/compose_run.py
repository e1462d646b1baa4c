#!/usr/bin/env python3
"""Run bt as deploy/compose.yaml describes it, without Docker, and check it.

What it does (every step is checked; any failure exits 1):

1. Reads the compose model: `docker compose config --format json` where a
   Compose client is present (interpolation, anchors and merges exactly as
   Compose does them), otherwise the YAML itself (PyYAML) with `${VAR:-default}`
   interpolated here. The image's `ENV` defaults come from the runtime stage of
   deploy/Dockerfile, as in a container.
2. Starts the bt services (those built from deploy/Dockerfile) as local
   processes of the given `bt` binary, with the command and environment the
   compose file gives, in `depends_on` order: one-shot services (`migrate`) run
   to completion first, then the others, `deploy.replicas` processes each.
   Only addresses are translated: a compose service host name (`postgres`)
   becomes the local PostgreSQL (user and database included: a fresh database
   is created and dropped), `0.0.0.0:PORT` listen addresses become
   `127.0.0.1:<free port>` (one per replica), and bind-mount targets
   (`/data`) become their host paths (the repo's data/). Read-only mounts
   must be declared `:ro`.
3. Waits for `/ready` on every process, and runs deploy/healthcheck.sh (the
   image's HEALTHCHECK) against each with its environment.
4. Mints an API key with `bt keys create` (environment of the one-shot
   service, as `docker compose run --rm migrate keys create` would), submits a
   small bundle to the API, polls it to `completed`, reads its results.
5. Scrapes `/metrics` of every process and checks that every metric name that
   the Grafana dashboards, the Prometheus alert rules and the
   prometheus-adapter rules use is exported by some process (Prometheus'
   own series such as `up` aside), and that the workers completed the jobs.
6. Sends SIGTERM to every process and checks that each exits 0 within its
   service's `stop_grace_period`.

Usage: deploy/compose_run.py [--bt PATH] [--pg URL] [--timeout SECONDS]
  --bt       the bt binary (default: $BT, else /var/tmp/bt-target/debug/bt)
  --pg       an administrative URL of a local PostgreSQL
             (default: $BT_COMPOSE_PG, else postgres://postgres@127.0.0.1:5432/postgres)
  --timeout  give up after this many seconds (default 120)
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
COMPOSE = os.path.join(HERE, "compose.yaml")
DOCKERFILE = os.path.join(HERE, "Dockerfile")

BUNDLE = {
    "name": "compose",
    "datasets": {"tickers": ["BTCUSD", "ETHUSD"], "timeframes": ["1h"]},
    "strategy": {"kind": "sma_cross", "fast": [5, 10], "slow": [20, 40]},
    "costs": {"fee_bps": 10},
}

# Series that Prometheus itself makes (not exported by bt).
PROMETHEUS_SERIES = {"up", "scrape_duration_seconds", "scrape_samples_scraped", "ALERTS", "ALERTS_FOR_STATE"}

# PromQL words that are not metric names.
PROMQL_WORDS = {
    "and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
    "offset", "bool", "inf", "nan", "atan2", "e",
}


class Failure(Exception):
    pass


def log(msg: str) -> None:
    print(f"compose_run: {msg}", flush=True)


# ------------------------------------------------------------------ the model


def interpolate(value, env):
    """Compose's `${VAR}`, `${VAR:-default}`, `${VAR-default}` and `$$`."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def sub(m):
        if m.group(0) == "$$":
            return "$"
        name, op, default = m.group(1) or m.group(4), m.group(2), m.group(3) or ""
        v = env.get(name)
        if op == ":-":
            return v if v else default
        if op == "-":
            return v if v is not None else default
        if v is None:
            raise Failure(f"compose: ${{{name}}} is not set and has no default")
        return v

    return re.sub(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)", sub, value)


def load_model(compose_file: str) -> tuple[dict, str]:
    """The resolved compose model, and how it was read."""
    for cmd in (["docker", "compose"], ["docker-compose"]):
        exe = shutil.which(cmd[0])
        if not exe:
            continue
        probe = subprocess.run(cmd + ["version"], capture_output=True, text=True)
        if probe.returncode != 0:
            continue
        out = subprocess.run(
            cmd + ["-f", compose_file, "config", "--format", "json"], capture_output=True, text=True
        )
        if out.returncode != 0:
            raise Failure(f"{' '.join(cmd)} config failed:\n{out.stderr}")
        return json.loads(out.stdout), " ".join(cmd) + " config"
    try:
        import yaml  # PyYAML
    except ImportError as e:
        raise Failure("neither a Compose client nor PyYAML is available to read compose.yaml") from e
    with open(compose_file) as f:
        raw = yaml.safe_load(f)
    model = interpolate(raw, dict(os.environ))
    base = os.path.dirname(os.path.abspath(compose_file))
    for svc in model.get("services", {}).values():
        env = svc.get("environment") or {}
        if isinstance(env, list):
            env = dict(e.split("=", 1) if "=" in e else (e, os.environ.get(e, "")) for e in env)
        svc["environment"] = {k: "" if v is None else str(v) for k, v in env.items()}
        vols = []
        for v in svc.get("volumes") or []:
            if isinstance(v, str):
                parts = v.split(":")
                src, dst = parts[0], parts[1]
                ro = len(parts) > 2 and "ro" in parts[2].split(",")
                if src.startswith((".", "/")):
                    vols.append({"type": "bind", "source": os.path.normpath(os.path.join(base, src)),
                                 "target": dst, "read_only": ro})
                else:
                    vols.append({"type": "volume", "source": src, "target": dst, "read_only": ro})
            else:
                vols.append(v)
        svc["volumes"] = vols
        deps = svc.get("depends_on") or {}
        if isinstance(deps, list):
            deps = {d: {"condition": "service_started"} for d in deps}
        svc["depends_on"] = deps
        b = svc.get("build")
        if isinstance(b, dict) and "context" in b:
            b["context"] = os.path.normpath(os.path.join(base, b["context"]))
    return model, "PyYAML (Compose client not found)"


def image_env(dockerfile: str) -> dict:
    """`ENV` of the last stage of the Dockerfile (the runtime image)."""
    with open(dockerfile) as f:
        text = f.read().replace("\\\n", " ")
    env: dict = {}
    for line in text.splitlines():
        line = line.strip()
        if line.upper().startswith("FROM "):
            env = {}
        elif line.upper().startswith("ENV "):
            for k, v in re.findall(r'([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S+)', line[4:]):
                env[k] = v.strip('"')
    return env


def is_bt(svc: dict) -> bool:
    b = svc.get("build")
    if not isinstance(b, dict):
        return False
    path = os.path.join(b.get("context") or ".", b.get("dockerfile") or "Dockerfile")
    return os.path.abspath(path) == os.path.abspath(DOCKERFILE)


def grace_seconds(svc: dict) -> float:
    g = svc.get("stop_grace_period", "10s")
    m = re.fullmatch(r"(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?", str(g))
    if not m or not any(m.groups()):
        raise Failure(f"stop_grace_period {g!r}: not understood")
    return int(m.group(1) or 0) * 60 + float(m.group(2) or 0)


# ------------------------------------------------------------------ helpers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method: str, url: str, body=None, key=None, timeout=10.0):
    headers = {}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if key:
        headers["Authorization"] = f"Bearer {key}"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def psql(pg: str, sql: str) -> None:
    out = subprocess.run(["psql", pg, "-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql], capture_output=True, text=True)
    if out.returncode != 0:
        raise Failure(f"psql {sql!r}: {out.stderr.strip()}")


class Deadline:
    def __init__(self, seconds: float):
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        return self.end - time.monotonic()

    def check(self, what: str) -> None:
        if self.left() <= 0:
            raise Failure(f"timed out: {what}")


# ------------------------------------------------------------------ metric names


def promql_names(expr: str) -> set:
    """Metric names an expression selects (a small PromQL lexer: strings, label
    matchers, ranges, grouping label lists, functions and keywords removed)."""
    e = re.sub(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`', '""', expr)
    e = re.sub(r"\{[^}]*\}", " ", e)
    e = re.sub(r"\[[^\]]*\]", " ", e)
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    e = re.sub(r"\$\{?[A-Za-z_][A-Za-z0-9_]*\}?", " ", e)  # Grafana variables
    names = set()
    for m in re.finditer(r"(?<![\w.])([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?", e):
        word, call = m.group(1), m.group(2)
        if call or word.lower() in PROMQL_WORDS:
            continue
        names.add(word)
    return names


def dashboard_exprs(path: str) -> list:
    with open(path) as f:
        dash = json.load(f)
    out = []

    def walk(panels):
        for p in panels or []:
            for t in p.get("targets") or []:
                if t.get("expr"):
                    out.append((f"{os.path.basename(path)}: {p.get('title')}", t["expr"]))
            walk(p.get("panels"))

    walk(dash.get("panels"))
    for v in (dash.get("templating") or {}).get("list") or []:
        q = v.get("query")
        if isinstance(q, dict):
            q = q.get("query")
        if isinstance(q, str) and v.get("type") == "query":
            m = re.search(r"label_values\(([^,)]*)", q)
            out.append((f"variable {v.get('name')}", m.group(1) if m else q))
    return out


def rule_exprs(path: str) -> list:
    import yaml

    with open(path) as f:
        doc = yaml.safe_load(f)
    return [
        (f"{os.path.basename(path)}: {r.get('alert') or r.get('record')}", r["expr"])
        for g in doc.get("groups") or []
        for r in g.get("rules") or []
    ]


def adapter_exprs(path: str) -> list:
    import yaml

    with open(path) as f:
        doc = yaml.safe_load(f)
    out = []
    for kind in ("external", "custom", "resource"):
        for r in ((doc.get("rules") or {}).get(kind) or []):
            if isinstance(r, dict) and r.get("metricsQuery"):
                q = r["metricsQuery"].replace("<<.LabelMatchers>>", "").replace(",}", "}")
                q = re.sub(r"<<[^>]*>>", "", q)
                out.append((f"{os.path.basename(path)}: {r.get('name', {}).get('as')}", q))
    return out


def keda_queries() -> list:
    import yaml

    out = []
    for p in sorted(glob.glob(os.path.join(HERE, "k8s", "**", "*.yaml"), recursive=True)):
        with open(p) as f:
            for d in yaml.safe_load_all(f):
                if isinstance(d, dict) and d.get("kind") == "ScaledObject":
                    for t in d["spec"].get("triggers") or []:
                        if t.get("type") == "postgresql":
                            out.append(t["metadata"]["query"])
    return out


def used_metrics() -> dict:
    """metric name -> where it is used."""
    exprs = []
    for p in sorted(glob.glob(os.path.join(HERE, "grafana", "dashboards", "*.json"))):
        exprs += dashboard_exprs(p)
    exprs += rule_exprs(os.path.join(HERE, "prometheus", "alerts.yml"))
    for p in sorted(glob.glob(os.path.join(HERE, "k8s", "**", "prometheus-adapter-values.yaml"), recursive=True)):
        exprs += adapter_exprs(p)
    if not exprs:
        raise Failure("no PromQL expressions found in the dashboards and rules")
    used: dict = {}
    for where, e in exprs:
        for n in promql_names(e):
            used.setdefault(n, []).append(where)
    return used


def exported_series(text: str) -> tuple[set, set]:
    """(sample names a scrape can have, family names) from OpenMetrics or
    Prometheus text: families from `# TYPE` (counters give `_total`,
    histograms `_bucket`/`_sum`/`_count`, ...), plus every sample line's name."""
    names, families = set(), set()
    suffixes = {
        "counter": ["_total", "_created"],
        "histogram": ["_bucket", "_sum", "_count", "_created"],
        "summary": ["", "_sum", "_count", "_created"],
        "gaugehistogram": ["_bucket", "_gsum", "_gcount"],
        "info": ["_info"],
        "stateset": [""],
        "gauge": [""],
        "unknown": [""],
        "untyped": [""],
    }
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            parts = line.split()
            if len(parts) >= 4:
                fam, typ = parts[2], parts[3]
                families.add(fam)
                for s in suffixes.get(typ, [""]):
                    names.add(fam + s)
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{\s]", line, maxsplit=1)[0])
    return names, families


def sample_values(text: str, name: str) -> list:
    vals = []
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            rest = line.rsplit("}", 1)[1] if "}" in line else line[len(name):]
            try:
                vals.append(float(rest.split()[0]))
            except (ValueError, IndexError):
                pass
    return vals


# ------------------------------------------------------------------ processes


class Proc:
    def __init__(self, service, index, argv, env, cwd, logdir, listen, grace):
        self.service, self.index, self.argv, self.env = service, index, argv, env
        self.name = f"{service}-{index}"
        self.listen = listen  # env var -> "127.0.0.1:port"
        self.grace = grace
        self.log_path = os.path.join(logdir, self.name + ".log")
        self.log = open(self.log_path, "wb")
        self.p = subprocess.Popen(argv, env=env, cwd=cwd, stdout=self.log, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, start_new_session=True)

    def url(self, var):
        return f"http://{self.listen[var]}"

    def tail(self, n=25) -> str:
        try:
            with open(self.log_path, "rb") as f:
                return "\n".join(f.read().decode(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bt", default=os.environ.get("BT", "/var/tmp/bt-target/debug/bt"))
    ap.add_argument("--pg", default=os.environ.get("BT_COMPOSE_PG", "postgres://postgres@127.0.0.1:5432/postgres"))
    ap.add_argument("--timeout", type=float, default=120.0)
    args = ap.parse_args()

    bt = os.path.abspath(args.bt)
    if not os.access(bt, os.X_OK):
        log(f"FAIL: no bt binary at {bt} (pass --bt or set BT)")
        return 1

    deadline = Deadline(args.timeout)
    procs: list[Proc] = []
    workdir = tempfile.mkdtemp(prefix="bt-compose-")
    db = f"bt_compose_{uuid.uuid4().hex[:12]}"
    pg = urllib.parse.urlsplit(args.pg)
    db_created = False
    ok = False
    try:
        model, how = load_model(COMPOSE)
        log(f"read {os.path.relpath(COMPOSE, REPO)} with {how}")
        services = model.get("services") or {}
        bt_services = {n for n, s in services.items() if is_bt(s)}
        if not bt_services:
            raise Failure("no service is built from deploy/Dockerfile")
        base_env = image_env(DOCKERFILE)
        entry = None
        with open(DOCKERFILE) as f:
            m = re.findall(r'^ENTRYPOINT\s+\["([^"]+)"', f.read(), re.M)
            entry = m[-1] if m else None
        if not entry or os.path.basename(entry) != "bt":
            raise Failure("deploy/Dockerfile: ENTRYPOINT is not the bt binary")

        psql(args.pg, f'CREATE DATABASE "{db}"')
        db_created = True
        local_db = urllib.parse.urlunsplit((pg.scheme or "postgres", pg.netloc, "/" + db, pg.query, ""))

        def translate(name: str, svc: dict, index: int) -> tuple[dict, dict]:
            env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": workdir, "LANG": "C.UTF-8"}
            env.update(base_env)
            env.update({k: "" if v is None else str(v) for k, v in (svc.get("environment") or {}).items()})
            listen = {}
            mounts = {}
            for v in svc.get("volumes") or []:
                if v.get("type") == "bind":
                    mounts[v["target"]] = (v["source"], v.get("read_only", False))
            for k, v in list(env.items()):
                u = urllib.parse.urlsplit(v) if "://" in v else None
                if u and u.scheme.startswith("postgres"):
                    if u.hostname not in services:
                        raise Failure(f"{name}: {k} points at {u.hostname}, which is no compose service")
                    env[k] = local_db
                elif re.fullmatch(r"0\.0\.0\.0:\d+", v):
                    listen[k] = env[k] = f"127.0.0.1:{free_port()}"
                else:
                    for dst, (src, ro) in mounts.items():
                        if v == dst or v.startswith(dst.rstrip("/") + "/"):
                            if k == "BT_CATALOG" and not ro:
                                raise Failure(f"{name}: the catalog mount {dst} is not read-only")
                            env[k] = src + v[len(dst):]
            return env, listen

        # depends_on order
        order, seen = [], set()

        def visit(n, stack=()):
            if n in seen:
                return
            if n in stack:
                raise Failure(f"depends_on cycle through {n}")
            for d in (services[n].get("depends_on") or {}):
                visit(d, stack + (n,))
            seen.add(n)
            order.append(n)

        for n in services:
            visit(n)
        one_shot = {
            d for s in services.values() for d, c in (s.get("depends_on") or {}).items()
            if (c or {}).get("condition") == "service_completed_successfully"
        }
        for n in order:
            svc = services[n]
            if n not in bt_services:
                for d in bt_services:
                    if n in (services[d].get("depends_on") or {}) and (services[d]["depends_on"][n] or {}).get(
                        "condition"
                    ) == "service_healthy" and not svc.get("healthcheck"):
                        raise Failure(f"{d} waits for {n} to be healthy, but {n} has no healthcheck")
                continue
            cmd = svc.get("command") or ["serve"]
            if isinstance(cmd, str):
                cmd = cmd.split()
            replicas = int(((svc.get("deploy") or {}).get("replicas")) or 1)
            if n in one_shot:
                env, _ = translate(n, svc, 0)
                log(f"{n}: bt {' '.join(cmd)}")
                out = subprocess.run([bt] + cmd, env=env, cwd=workdir, capture_output=True, text=True,
                                     timeout=max(1, deadline.left()))
                if out.returncode != 0:
                    raise Failure(f"{n} exited {out.returncode}:\n{out.stdout}{out.stderr}")
                continue
            for i in range(1, replicas + 1):
                env, listen = translate(n, svc, i)
                p = Proc(n, i, [bt] + cmd, env, workdir, workdir, listen, grace_seconds(svc))
                procs.append(p)
                log(f"{p.name}: bt {' '.join(cmd)} on {', '.join(f'{k}={v}' for k, v in listen.items()) or '-'}")
        roles = {p.argv[1] for p in procs}
        if "serve" not in roles or "work" not in roles:
            raise Failure(f"compose must run bt serve and bt work (found {sorted(roles)})")
        workers = [p for p in procs if p.argv[1] == "work"]
        if len(workers) < 2:
            raise Failure(f"compose runs {len(workers)} bt work processes, expected 2")

        # Every process's own address: BT_API_ADDR for serve, BT_HTTP_ADDR for work.
        def own(p: Proc) -> str:
            var = "BT_API_ADDR" if p.argv[1] == "serve" else "BT_HTTP_ADDR"
            if var not in p.listen:
                raise Failure(f"{p.name}: {var} is not a 0.0.0.0:PORT address in the container")
            return p.url(var)

        for p in procs:
            while True:
                if p.p.poll() is not None:
                    raise Failure(f"{p.name} exited {p.p.returncode} before it was ready")
                try:
                    st, _ = http("GET", own(p) + "/ready", timeout=2)
                    if st == 200:
                        break
                except OSError:
                    pass
                deadline.check(f"{p.name} to answer /ready")
                time.sleep(0.2)
            hc = subprocess.run([os.path.join(HERE, "healthcheck.sh")], env=p.env, capture_output=True, text=True)
            if hc.returncode != 0:
                raise Failure(f"{p.name}: the image HEALTHCHECK fails: {hc.stderr.strip()}")
            st, body = http("GET", own(p) + "/health")
            if st != 200:
                raise Failure(f"{p.name}: /health answered {st}")
        log(f"all {len(procs)} processes ready; HEALTHCHECK passes on each")

        api = next(p for p in procs if p.argv[1] == "serve")
        keysvc = next(iter(one_shot & bt_services), None) or api.service
        env, _ = translate(keysvc, services[keysvc], 0)
        out = subprocess.run([bt, "keys", "create", "--owner", "compose"], env=env, cwd=workdir,
                             capture_output=True, text=True, timeout=max(1, deadline.left()))
        key = out.stdout.strip()
        if out.returncode != 0 or not key:
            raise Failure(f"bt keys create failed: {out.stderr}")

        base = own(api)
        t0 = time.monotonic()
        st, body = http("POST", base + "/v1/bundles", BUNDLE, key)
        if st != 202:
            raise Failure(f"POST /v1/bundles answered {st}: {body}")
        sub = json.loads(body)
        bid = sub["id"]
        log(f"bundle {bid}: {sub.get('variants')} variants in {sub.get('jobs')} jobs, path {sub.get('execution')}")
        while True:
            st, body = http("GET", f"{base}/v1/bundles/{bid}", key=key)
            if st != 200:
                raise Failure(f"GET /v1/bundles/{bid} answered {st}: {body}")
            status = json.loads(body)
            if status["status"] == "completed":
                break
            if status["status"] in ("failed", "cancelled"):
                raise Failure(f"bundle {status['status']}: {body}")
            deadline.check(f"bundle to complete (last: {body})")
            time.sleep(0.25)
        log(f"bundle completed in {time.monotonic() - t0:.1f} s")
        st, body = http("GET", f"{base}/v1/bundles/{bid}/results?limit=100", key=key)
        if st != 200:
            raise Failure(f"GET /v1/bundles/{bid}/results answered {st}: {body}")
        res = json.loads(body)
        if len(res.get("results") or []) != sub["variants"] or res.get("stored") != sub["variants"]:
            raise Failure(f"results: expected {sub['variants']} rows: {body[:500]}")
        log(f"results: {len(res['results'])} variants")

        # The KEDA scaler's query (deploy/k8s/keda) on this migrated schema.
        for q in keda_queries():
            out = subprocess.run(["psql", local_db, "-v", "ON_ERROR_STOP=1", "-qAt", "-c", q],
                                 capture_output=True, text=True)
            if out.returncode != 0 or not re.fullmatch(r"\d+", out.stdout.strip()):
                raise Failure(f"the KEDA query fails on the migrated schema: {out.stderr.strip() or out.stdout}")
            log(f"KEDA postgresql query runs on the schema (now {out.stdout.strip()} jobs outstanding)")

        # Metrics.
        exported, families, scrapes = set(), set(), {}
        for p in procs:
            st, text = http("GET", own(p) + "/metrics")
            if st != 200 or "# EOF" not in text:
                raise Failure(f"{p.name}: /metrics answered {st}")
            scrapes[p.name] = text
            n, f = exported_series(text)
            exported |= n
            families |= f
        done = sum(sum(sample_values(scrapes[p.name], "bt_jobs_completed_total")) for p in workers)
        if done < sub["jobs"]:
            raise Failure(f"the workers report {done} completed jobs, the bundle had {sub['jobs']}")
        used = used_metrics()
        missing = {n: w for n, w in used.items() if n not in exported and n not in PROMETHEUS_SERIES}
        log(f"metric names used by dashboards and rules: {len(used)}; exported by bt: {len(families)} families")
        if missing:
            for n, w in sorted(missing.items()):
                log(f"  NOT EXPORTED: {n} (used in {', '.join(sorted(set(w)))})")
            raise Failure(f"{len(missing)} metric names are used but not exported")
        unused = sorted(f for f in families if f.startswith("bt_") and not any(
            u == f or (u.startswith(f + "_") and u[len(f):] in ("_total", "_bucket", "_sum", "_count")) for u in used))
        if unused:
            log(f"exported but on no dashboard or rule (fine, for information): {', '.join(unused)}")

        # Shutdown as `docker compose stop` does it: SIGTERM, then the grace period.
        for p in procs:
            p.p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                rc = p.p.wait(timeout=max(1.0, min(p.grace, deadline.left())))
            except subprocess.TimeoutExpired:
                raise Failure(f"{p.name} did not exit within stop_grace_period {p.grace:.0f} s after SIGTERM")
            if rc != 0:
                raise Failure(f"{p.name} exited {rc} after SIGTERM")
        log("every process exited 0 on SIGTERM within its stop_grace_period")
        ok = True
    except Failure as e:
        log(f"FAIL: {e}")
    except Exception as e:  # noqa: BLE001 - report, then clean up
        log(f"FAIL: {type(e).__name__}: {e}")
    finally:
        for p in procs:
            if p.p.poll() is None:
                try:
                    os.killpg(p.p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.p.wait()
            p.log.close()
        if not ok:
            for p in procs:
                log(f"--- last lines of {p.name} ({' '.join(p.argv[1:])}) ---")
                print(p.tail(), flush=True)
        if db_created:
            try:
                psql(args.pg, f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
            except Failure as e:
                log(f"warning: {e}")
        shutil.rmtree(workdir, ignore_errors=True)
    log("PASS" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
