#!/usr/bin/env bash
# Creates the Python venv the format tests validate OCSF output with (scripts/ocsf_validate.py)
# and prints the path of its python on stdout (everything else goes to stderr).
#
#   EGRESSWATCH_VENV   venv folder (default: target/validators-venv in the repository)
#   PYTHON             interpreter to create it with (default: python3)
#
# Installs pinned packages from PyPI only when the venv lacks them at these versions, so a
# second run is offline and fast. Validation itself never uses the network (the OCSF schema
# exports are inside the ocsf-json-schema wheel).
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${EGRESSWATCH_VENV:-target/validators-venv}"
python="${PYTHON:-python3}"

# Pinned and verified together (ocsf-json-schema 1.2.0 bundles the OCSF 1.8.0 export).
pins=(
  "ocsf-json-schema==1.2.0"
  "jsonschema==4.26.0"
  "jsonschema-specifications==2025.9.1"
  "referencing==0.37.0"
  "rpds-py==2026.9.1"
  "attrs==26.1.0"
  "typing_extensions==4.16.0"
)

installed() {
  "$venv/bin/python" - "${pins[@]}" <<'EOF' >/dev/null 2>&1
import sys
from importlib.metadata import version, PackageNotFoundError
for pin in sys.argv[1:]:
    name, want = pin.split("==")
    try:
        if version(name) != want:
            sys.exit(1)
    except PackageNotFoundError:
        sys.exit(1)
import jsonschema, ocsf_json_schema
ocsf_json_schema.get_ocsf_schema("1.8.0")
EOF
}

if [ ! -x "$venv/bin/python" ]; then
  echo "setup_validators: creating venv $venv" >&2
  mkdir -p "$(dirname "$venv")"
  "$python" -m venv "$venv" >&2
fi

if ! installed; then
  echo "setup_validators: installing ${pins[*]}" >&2
  "$venv/bin/python" -m pip install --disable-pip-version-check --no-input -q "${pins[@]}" >&2
  installed || { echo "setup_validators: packages still missing after install" >&2; exit 1; }
fi

# Absolute path, so it works from any working directory (cargo runs tests in the crate root).
abs="$(cd "$venv/bin" && pwd)/python"
echo "$abs"
