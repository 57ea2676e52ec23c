#!/usr/bin/env bash
# The main job, for now: a short engine benchmark on a fresh SQLite store (one JSON line on stdout).
# It will become the host demo once src/Host exists.
set -euo pipefail
cd "$(dirname "$0")"
export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1
exec dotnet run -c Release --project bench -- engine --store sqlite --count 500 --concurrency 8 "$@"
