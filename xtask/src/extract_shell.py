# Extract every shell step of workflows, actions and GitLab components into files for shellcheck.
# Used by `cargo xtask lint-ci`; runs in the tools venv, whose check-jsonschema brings ruamel.yaml.
import os, re, sys
from ruamel.yaml import YAML
out, files = sys.argv[1], sys.argv[2:]
yaml = YAML(typ="safe")
bad = []
n = 0
SECRET = re.compile(r"\$\{\{[^}]*\b(secrets\.|github\.token)")
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
        steps = [("runs", {}, s) for s in doc["runs"].get("steps") or []]
    for job, spec in (doc.get("jobs") or {}).items():
        steps += [(job, spec.get("env") or {}, s) for s in (spec.get("steps") or [])]
    for i, (job, job_env, s) in enumerate(steps):
        if "run" in s:
            where = f"{job}.step{i}.{s.get('name') or s.get('id') or ''}"
            emit(src, where, s.get("shell", default_shell), s["run"])
            # GITHUB_ENV reaches every later step of the job (and every action they run): a step
            # that holds a secret must not write into it. Pass the secret in `env:` of the one
            # step that needs it.
            if "GITHUB_ENV" in s["run"]:
                env = {**(doc.get("env") or {}), **job_env, **(s.get("env") or {})}
                for key, value in env.items():
                    if SECRET.search(str(value)):
                        bad.append(f"{src}: {where}: writes into GITHUB_ENV while it holds the secret {key} ({value}); every later step could read it: pass the secret in `env:` of the step that needs it")
for b in bad:
    print(b, file=sys.stderr)
print(n)
sys.exit(1 if bad else 0)
