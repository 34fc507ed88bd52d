#!/usr/bin/env bash
# Creates the Python venv with moto's S3/SQS/EventBridge/CloudFormation server used by the S3-pipeline tests and prints the
# venv's python on stdout. moto is pinned to 5.2.5: 5.2.1 answers CompleteMultipartUpload with an
# XML root that aws-sdk-s3 rejects. The tests start `python -m moto.server -H 127.0.0.1 -p PORT`
# themselves, on loopback only, and stop the process they started.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${EGRESSWATCH_MOTO_VENV:-target/moto-venv}"
python="${PYTHON:-python3}"
pins=("moto[s3,sqs,ec2,sagemaker,events,cloudformation]==5.2.5" "flask==3.1.3" "flask-cors==6.0.5")
if ! "$venv/bin/python" -c 'import moto, flask, flask_cors, moto.ec2.models, moto.sagemaker.models, moto.events.models, moto.cloudformation.models; assert moto.__version__ == "5.2.5"' >/dev/null 2>&1; then
  echo "installing moto into $venv" >&2
  "$python" -m venv "$venv" >&2
  "$venv/bin/pip" install -q --disable-pip-version-check "${pins[@]}" >&2
fi
echo "$(cd "$venv" && pwd)/bin/python"
