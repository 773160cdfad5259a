"""A small `helm`-compatible command over helm-python-sdk (the Helm 4 engine, offline).

Installed by scripts/setup as .tools/bin/helm. It supports what tests and `ecomctl render`
need without a cluster:

    helm template NAME CHART [-f FILE]... [--set K=V]... [--set-string K=V]...
                  [--set-json K=JSON]... [-n NAMESPACE]
    helm lint CHART [-f FILE]... [--set K=V]... [--strict]
    helm version [--short]

Anything else (install, upgrade, ...) needs a real cluster and exits 2 with a clear message.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import helm_python as helm


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def collect_values(args: argparse.Namespace) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for path in args.values or []:
        with open(path, encoding="utf-8") as fh:
            values = deep_merge(values, helm.values_from_yaml(fh.read()) or {})
    for kind, parser in (
        ("set", helm.parse_set_string),
        ("set_string", helm.parse_set_string_values),
        ("set_json", helm.parse_set_json),
    ):
        for expr in getattr(args, kind) or []:
            values = deep_merge(values, parser(expr))
    return values


def add_value_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("-f", "--values", action="append", metavar="FILE")
    p.add_argument("--set", action="append", metavar="K=V")
    p.add_argument("--set-string", dest="set_string", action="append", metavar="K=V")
    p.add_argument("--set-json", dest="set_json", action="append", metavar="K=JSON")
    p.add_argument("-n", "--namespace", default="default")


def cmd_template(args: argparse.Namespace) -> int:
    chart = helm.Chart.load(args.chart)
    values = collect_values(args)
    chart.validate_schema(chart.merge_values(values))
    manifests = chart.render(values, name=args.name, namespace=args.namespace, is_install=True)
    out = []
    for path in sorted(manifests):
        body = manifests[path].strip()
        if not body or path.endswith("NOTES.txt"):
            continue
        out.append(f"---\n# Source: {path}\n{body}\n")
    sys.stdout.write("".join(out))
    return 0


def cmd_lint(args: argparse.Namespace) -> int:
    report = helm.lint(args.chart, collect_values(args), strict=args.strict, namespace=args.namespace)
    names = {0: "UNKNOWN", 1: "INFO", 2: "WARNING", 3: "ERROR"}
    failed = False
    for msg in report.get("messages", []):
        sev = msg.get("severity", 0)
        failed = failed or sev == 3 or (args.strict and sev == 2)
        print(f"[{names.get(sev, sev)}] {msg.get('path', '')}: {msg.get('error', '')}")
    for err in report.get("errors", []):
        failed = True
        print(f"[ERROR] {err}")
    linted = report.get("total_charts_linted", 0)
    print(f"{linted} chart(s) linted, {1 if failed else 0} chart(s) failed")
    return 1 if failed else 0


def cmd_version(args: argparse.Namespace) -> int:
    version = helm.helm_sdk_version()
    if not version.startswith("v"):
        version = "v" + version
    if args.short:
        print(version)
    else:
        print(f'version.BuildInfo{{Version:"{version}", GoVersion:"", engine:"helm-python-sdk {helm.__version__}"}}')
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="helm", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd")
    t = sub.add_parser("template")
    t.add_argument("name")
    t.add_argument("chart")
    add_value_flags(t)
    t.set_defaults(func=cmd_template)
    lint = sub.add_parser("lint")
    lint.add_argument("chart")
    lint.add_argument("--strict", action="store_true")
    add_value_flags(lint)
    lint.set_defaults(func=cmd_lint)
    v = sub.add_parser("version")
    v.add_argument("--short", action="store_true")
    v.set_defaults(func=cmd_version)

    if argv and argv[0] not in {"template", "lint", "version", "-h", "--help"}:
        print(f"Error: 'helm {argv[0]}' needs a real cluster; this offline helm only does "
              "template, lint and version", file=sys.stderr)
        return 2
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return args.func(args)
    except helm.HelmError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
