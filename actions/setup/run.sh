#!/bin/sh
# Run one paved tool with a step's inputs. They arrive only through the environment: each tool's
# PAVED_* env twins, PAVED_ACTION_BIN (the binary), PAVED_ACTION_COMMAND (its subcommand),
# PAVED_ACTION_ARGS_1..9 (positional values, one per line, passed after `--`) and
# PAVED_ACTION_FLAGS (the names of the boolean flags). Nothing is evaluated by the shell.
set -eu

# A flag input left `false` means "not given" (clap would count it as given).
for paved_name in ${PAVED_ACTION_FLAGS:-}; do
  if [ "$(printenv "$paved_name" || true)" = false ]; then
    unset "$paved_name"
  fi
done
# clap reads an empty variable as an empty value; an input left empty means "not given".
for paved_name in $(env | sed -n 's/^\(PAVED_[A-Z0-9_]*\)=.*/\1/p'); do
  if [ -z "$(printenv "$paved_name" || true)" ]; then
    unset "$paved_name"
  fi
done

# PAVED_ACTION_GIT_TOKEN (set in `env:` of the one step that pushes): git authenticates to the
# forge with it for this process only; nothing is written to disk or to GITHUB_ENV.
if [ -n "${PAVED_ACTION_GIT_TOKEN:-}" ]; then
  paved_server=${GITHUB_SERVER_URL:-${CI_SERVER_URL:-}}
  if [ -z "$paved_server" ]; then
    echo "paved: error: PAVED_ACTION_GIT_TOKEN is set but neither GITHUB_SERVER_URL nor CI_SERVER_URL names the server to use it for" >&2
    exit 2
  fi
  paved_auth=$(printf '%s:%s' "${PAVED_ACTION_GIT_USER:-x-access-token}" "$PAVED_ACTION_GIT_TOKEN" | base64 | tr -d '\n')
  if [ "${GITHUB_ACTIONS:-}" = true ]; then
    echo "::add-mask::$paved_auth"
  fi
  paved_n=${GIT_CONFIG_COUNT:-0}
  export "GIT_CONFIG_KEY_$paved_n=http.$paved_server/.extraheader"
  export "GIT_CONFIG_VALUE_$paved_n=AUTHORIZATION: basic $paved_auth"
  GIT_CONFIG_COUNT=$((paved_n + 1))
  export GIT_CONFIG_COUNT
  unset PAVED_ACTION_GIT_TOKEN paved_auth
fi

set --
if [ -n "${PAVED_ACTION_COMMAND:-}" ]; then
  case "$PAVED_ACTION_COMMAND" in
    -*)
      echo "paved: error: the command input '$PAVED_ACTION_COMMAND' is not a subcommand; give a subcommand name such as lint or gate" >&2
      exit 2
      ;;
  esac
  set -- "$PAVED_ACTION_COMMAND"
fi
paved_ifs=$IFS
IFS='
'
set -f
# Positional values follow `--`, so a value that looks like a flag (a PR titled `--help`) stays a
# value.
paved_sep=
for paved_i in 1 2 3 4 5 6 7 8 9; do
  for paved_arg in $(printenv "PAVED_ACTION_ARGS_$paved_i" || true); do
    if [ -z "$paved_sep" ]; then
      set -- "$@" --
      paved_sep=1
    fi
    set -- "$@" "$paved_arg"
  done
done
set +f
IFS=$paved_ifs
if [ -n "${PAVED_ACTION_STDOUT:-}" ]; then
  # The result also goes to a file (GitLab release notes, artifacts).
  "$PAVED_ACTION_BIN" "$@" >"$PAVED_ACTION_STDOUT"
  cat "$PAVED_ACTION_STDOUT"
else
  "$PAVED_ACTION_BIN" "$@"
fi
