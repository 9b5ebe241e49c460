# Extract every shell step of workflows, actions and GitLab components into files for shellcheck.
# Used by `cargo xtask lint-ci`; runs in the tools venv, whose check-jsonschema brings ruamel.yaml.
import os, re, sys
from ruamel.yaml import YAML
out, files = sys.argv[1], sys.argv[2:]
yaml = YAML(typ="safe")
bad = []
n = 0
def emit(src, where, shell, body):
    global n
    n += 1
    for pat in (r"\$\{\{", r"\$\[\["):
        if re.search(pat, body):
            bad.append(f"{src}: {where}: an expression is expanded inside a shell script; pass it through env/variables instead")
    sh = "sh" if shell == "sh" else "bash"
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{src}__{where}")[:150]
    with open(os.path.join(out, f"{n:03}_{name}.{sh}"), "w") as f:
        f.write(f"#!/usr/bin/env {sh}\n# {src}: {where}\n{body}\n")
for src in files:
    text = open(src).read()
    if src.startswith("templates/"):
        docs = text.split("\n---\n", 1)
        doc = yaml.load(docs[-1]) or {}
        for job, spec in doc.items():
            if not isinstance(spec, dict):
                continue
            for key in ("before_script", "script", "after_script"):
                items = spec.get(key) or []
                if isinstance(items, str):
                    items = [items]
                if items:
                    emit(src, f"{job}.{key}", "sh", "\n".join(items))
        continue
    doc = yaml.load(text) or {}
    default_shell = ((doc.get("defaults") or {}).get("run") or {}).get("shell", "bash")
    steps = []
    if "runs" in doc:
        steps = [("runs", s) for s in doc["runs"].get("steps") or []]
    for job, spec in (doc.get("jobs") or {}).items():
        steps += [(job, s) for s in (spec.get("steps") or [])]
    for i, (job, s) in enumerate(steps):
        if "run" in s:
            emit(src, f"{job}.step{i}.{s.get('name') or s.get('id') or ''}", s.get("shell", default_shell), s["run"])
for b in bad:
    print(b, file=sys.stderr)
print(n)
sys.exit(1 if bad else 0)
