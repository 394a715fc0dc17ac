#!/usr/bin/env python3
"""Checks that deploy/'s Prometheus rules and Grafana dashboard speak pod's metrics.

Reads what pod exports from the code (pod-adapters-http/src/metrics.rs: the
prefix, each registered metric, its type and its label struct; the refusal
reasons of pod-adapters-http, the verification reasons of pod-alexa; the
routes of the router), then checks every PromQL expression in the given
files: metric names, label names (matchers, `by`/`on` lists, Grafana
legends), `reason` values and `route` values must exist. With
`--promql-out FILE` it also writes the dashboard's queries, Grafana's
variables replaced, as a Prometheus rules file, for `promtool check rules`
to parse. Standard library only. Exit status 1 on the first file with a
problem (all problems are listed).

usage: check-deploy-metrics.py [--promql-out FILE] FILE...
(.yml/.yaml: rules or rule tests; .json: a Grafana dashboard)
"""

import json
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
HTTP = ROOT / "pod-adapters-http" / "src"
METRICS_RS = HTTP / "metrics.rs"
VERIFY_RS = ROOT / "pod-alexa" / "src" / "verify" / "mod.rs"

# Labels Prometheus adds or histograms carry, whatever the metric.
TARGET_LABELS = {"job", "instance"}
# Series pod does not export but the files may use.
OTHER_SERIES = {"up"}
PROMQL_WORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "offset",
    "and", "or", "unless", "bool", "sum", "rate", "increase", "histogram_quantile",
    "absent", "count", "max", "min", "avg", "label_values", "vector", "le",
}


def function_body(src, signature):
    """The text of the Rust function starting at `signature`, to its closing brace."""
    start = src.index(signature)
    depth = 0
    for i in range(src.index("{", start), len(src)):
        if src[i] == "{":
            depth += 1
        elif src[i] == "}":
            depth -= 1
            if depth == 0:
                return src[start : i + 1]
    raise ValueError(f"unbalanced braces after {signature}")


def exported():
    """{series name: set of label names} and {series name: set of reason values}."""
    src = METRICS_RS.read_text()
    prefix = re.search(r'Registry::with_prefix\("(\w+)"\)', src).group(1)
    structs = {
        name: set(re.findall(r"^\s*(\w+)\s*:", body, re.M))
        for name, body in re.findall(r"struct (\w+) \{([^}]*)\}", src)
    }
    aliases = dict(re.findall(r"type (\w+) = Family<(\w+)", src))
    series = {}
    registered = re.findall(
        r'registry\.register\(\s*"(\w+)",\s*"(?:[^"\\]|\\.)*",\s*(\w+)\.clone\(\)', src
    )
    if not registered:
        sys.exit(f"{METRICS_RS}: found no registry.register(...) calls")
    for name, var in registered:
        decl = re.search(rf"let {var}\s*=\s*([^;]+);", src).group(1)
        labels = set(TARGET_LABELS)
        family = re.search(r"Family::<(\w+)", decl)
        alias = next((a for a in aliases if a in decl), None)
        if family:
            labels |= structs[family.group(1)]
        elif alias:
            labels |= structs[aliases[alias]]
        full = f"{prefix}_{name}"
        if "Counter" in decl:
            series[f"{full}_total"] = labels
        elif "istogram" in decl:
            series[f"{full}_bucket"] = labels | {"le"}
            series[f"{full}_sum"] = labels
            series[f"{full}_count"] = labels
        else:
            sys.exit(f"{METRICS_RS}: cannot tell the type of {name} ({decl})")
    series["up"] = set(TARGET_LABELS)

    rejections = set()
    for path in HTTP.rglob("*.rs"):
        text = path.read_text()
        rejections |= set(re.findall(r'\brejected\("(\w+)"\)', text))
        if "fn pizza_error_reason" in text:
            rejections |= set(re.findall(r'"(\w+)"', function_body(text, "fn pizza_error_reason")))
    verify = set(
        re.findall(r'=> "(\w+)"', function_body(VERIFY_RS.read_text(), "pub fn reason("))
    )
    reasons = {
        f"{prefix}_rejections_total": rejections,
        f"{prefix}_alexa_verification_failures_total": verify,
    }
    for metric, values in reasons.items():
        if metric not in series or not values:
            sys.exit(f"cannot read the reasons of {metric} from the code")
    return series, reasons


def routes():
    """Every route of pod's router, without a base path."""
    found = set(re.findall(r'\.route\(\s*"(/[^"]*)"', (HTTP / "lib.rs").read_text()))
    found |= set(re.findall(r'\.route\(\s*"(/[^"]*)"', (HTTP / "app" / "mod.rs").read_text()))
    found |= {"/api" + r for r in re.findall(r'\.route\(\s*"(/[^"]*)"', (HTTP / "api.rs").read_text())}
    if "/alexa" not in found:
        sys.exit("cannot read pod's routes from pod-adapters-http/src")
    return found


def yaml_exprs(text):
    """(line, PromQL) of each `expr:` (inline or block) and `series:` in a rules YAML."""
    lines = text.splitlines()
    out = []
    i = 0
    while i < len(lines):
        m = re.match(r"^(\s*)(?:- )?(expr|series):\s*(.*)$", lines[i])
        if not m:
            i += 1
            continue
        indent, value = len(m.group(1)), m.group(3).strip()
        start = i + 1
        if value in ("|", ">", "|-", ">-"):
            block = []
            i += 1
            while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent):
                block.append(lines[i].strip())
                i += 1
            out.append((start, " ".join(block)))
            continue
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        out.append((start, value))
        i += 1
    return out


def grafana(obj, path=""):
    """(where, PromQL, legend) of each target, and (where, query, None) of each variable."""
    if isinstance(obj, dict):
        if "expr" in obj and isinstance(obj["expr"], str):
            yield path, obj["expr"], obj.get("legendFormat")
        if isinstance(obj.get("query"), dict) and isinstance(obj["query"].get("query"), str):
            yield path + ".query", obj["query"]["query"], None
        for key, value in obj.items():
            yield from grafana(value, f"{path}.{key}" if path else key)
    elif isinstance(obj, list):
        for n, value in enumerate(obj):
            yield from grafana(value, f"{path}[{n}]")


def substitute(expr):
    """Grafana's variables replaced by values Prometheus accepts."""
    expr = expr.replace("$__rate_interval", "1m").replace("$__interval", "1m")
    return re.sub(r"\$\{?(\w+)\}?", lambda m: "pod" if m.group(1) == "job" else ".*", expr)


MATCHER = re.compile(r'(\w+)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"')


def check_expr(expr, legend, series, reasons, known_routes):
    problems = []
    all_labels = set().union(*series.values())
    # Selectors: an optional metric name, then {matchers}.
    for name, body in re.findall(r"([a-zA-Z_:][\w:]*)?\{([^{}]*)\}", expr):
        if name and name not in series:
            problems.append(f"unknown metric {name}")
            continue
        labels = series.get(name, all_labels) if name else all_labels
        for label, op, value in MATCHER.findall(body):
            if label not in labels:
                problems.append(f"{name or 'selector'} has no label {label}")
            elif label == "reason" and name in reasons:
                values = value.split("|") if op in ("=~", "!~") else [value]
                for v in values:
                    if v not in reasons[name]:
                        problems.append(f"{name} has no reason {v!r} (pod uses {sorted(reasons[name])})")
            elif label == "route":
                if op in ("=~", "!~"):
                    pattern = re.compile(value.encode().decode("unicode_escape"))
                    if not any(pattern.fullmatch(r) or pattern.fullmatch("/pod" + r) for r in known_routes):
                        problems.append(f"route matcher {value!r} matches no route of pod")
                elif not any(value == r or value.endswith(r) for r in known_routes):
                    problems.append(f"pod has no route {value!r}")
    # Metric names used without braces.
    for word in re.findall(r"\b(pod_\w+)\b", expr):
        if word not in series:
            problems.append(f"unknown metric {word}")
    # by / without / on / ignoring lists, label_values(…, label).
    for group in re.findall(r"\b(?:by|without|on|ignoring)\s*\(([^)]*)\)", expr):
        for label in filter(None, (x.strip() for x in group.split(","))):
            if label not in all_labels:
                problems.append(f"no pod metric has the label {label!r}")
    for label in re.findall(r"label_values\([^)]*,\s*(\w+)\s*\)", expr):
        if label not in all_labels:
            problems.append(f"no pod metric has the label {label!r}")
    for label in re.findall(r"\{\{\s*(\w+)\s*\}\}", legend or ""):
        if label not in all_labels:
            problems.append(f"legend names the label {label!r}, which no pod metric has")
    return sorted(set(problems))


def main(argv):
    promql_out = None
    if argv[:1] == ["--promql-out"]:
        promql_out, argv = pathlib.Path(argv[1]), argv[2:]
    if not argv:
        sys.exit(__doc__)
    series, reasons = exported()
    known_routes = routes()
    failed = False
    dashboard_queries = []
    used = set()
    for arg in argv:
        path = pathlib.Path(arg)
        text = path.read_text()
        if path.suffix == ".json":
            entries = [(where, substitute(e), legend) for where, e, legend in grafana(json.loads(text))]
            dashboard_queries += [e for where, e, _ in entries if not where.endswith(".query")]
        else:
            entries = [(f"line {line}", e, None) for line, e in yaml_exprs(text)]
        if not entries:
            print(f"{arg}: no PromQL found")
            failed = True
        for where, expr, legend in entries:
            used |= set(re.findall(r"\b(pod_\w+|up)\b", expr))
            for problem in check_expr(expr, legend, series, reasons, known_routes):
                print(f"{arg}: {where}: {problem}\n    {expr}")
                failed = True
        print(f"{arg}: {len(entries)} queries checked")
    families = {re.sub(r"_(total|bucket|sum|count)$", "", s) for s in series if s not in OTHER_SERIES}
    unused = sorted(f for f in families if not any(u.startswith(f) for u in used))
    if unused:
        print(f"note: not used by these files: {', '.join(unused)}")
    if promql_out:
        lines = ["groups:", "  - name: dashboard-queries", "    rules:"]
        for n, expr in enumerate(dashboard_queries):
            lines += [f"      - record: dashboard:query_{n}", f"        expr: {json.dumps(expr)}"]
        promql_out.write_text("\n".join(lines) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
