#!/usr/bin/env bash
# Creates the Python venv with the deployment-template checkers that tests/deploy.rs runs
# (cfn-lint, checkov, aws-sam-translator) and prints the venv's python on stdout (everything
# else goes to stderr). Versions are pinned, their dependencies by
# scripts/deploy-tools-constraints.txt, so a second run is offline and fast (about 50 s to
# install from PyPI on the 2-core machine).
#
#   EGRESSWATCH_DEPLOY_TOOLS_VENV   venv folder (default: target/deploy-tools-venv)
#   PYTHON                          interpreter to create it with (default: python3)
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${EGRESSWATCH_DEPLOY_TOOLS_VENV:-target/deploy-tools-venv}"
python="${PYTHON:-python3}"
pins=("cfn-lint==1.58.0" "checkov==3.3.30" "aws-sam-translator==1.115.0")
if ! "$venv/bin/python" - "${pins[@]}" <<'PY' >/dev/null 2>&1
import sys
from importlib.metadata import version
for pin in sys.argv[1:]:
    name, want = pin.split("==")
    if version(name) != want:
        sys.exit(1)
import cfnlint, checkov, samtranslator
PY
then
  echo "setup_deploy_tools: installing ${pins[*]} into $venv" >&2
  mkdir -p "$(dirname "$venv")"
  "$python" -m venv "$venv" >&2
  "$venv/bin/python" -m pip install --disable-pip-version-check --no-input -q \
    -c scripts/deploy-tools-constraints.txt "${pins[@]}" >&2
fi
echo "$(cd "$venv/bin" && pwd)/python"
