"""The GitHub Actions template (examples/github/autortc.yml) is a valid workflow, by
the schema check-jsonschema vendors (offline), and does what the README says: nightly
and on pull requests, a shard matrix, a merge job that uploads JUnit and the HTML
report, LiveKit from secrets, the embedded transport without them. It cannot run here."""

from __future__ import annotations

import importlib.resources
import json
from pathlib import Path

import jsonschema
import yaml

REPO = Path(__file__).resolve().parents[1]
WORKFLOW = REPO / "examples" / "github" / "autortc.yml"


def _load() -> dict:
    # PyYAML reads the key `on` as True (YAML 1.1); GitHub reads it as "on"
    body = yaml.safe_load(WORKFLOW.read_text())
    if True in body:
        body["on"] = body.pop(True)
    return body


def test_the_workflow_validates_against_the_github_workflow_schema() -> None:
    schema_file = (
        importlib.resources.files("check_jsonschema")
        / "builtin_schemas"
        / "vendor"
        / "github-workflows.json"
    )
    schema = json.loads(schema_file.read_text())
    jsonschema.validate(_load(), schema)
    broken = _load()
    del broken["jobs"]["merge"]["runs-on"]
    try:
        jsonschema.validate(broken, schema)
    except jsonschema.ValidationError:
        pass
    else:
        raise AssertionError("the schema accepted a job with no runs-on")


def test_nightly_and_pull_requests_a_shard_matrix_and_a_merge_that_uploads() -> None:
    wf = _load()
    assert "pull_request" in wf["on"]
    assert wf["on"]["schedule"][0]["cron"]
    shard = wf["jobs"]["shard"]
    shards = shard["strategy"]["matrix"]["shard"]
    assert shards == list(range(1, int(wf["env"]["SHARDS"]) + 1))
    run = next(s["run"] for s in shard["steps"] if "autortc run" in s.get("run", ""))
    assert '--shard "${{ matrix.shard }}/${SHARDS}"' in run
    assert 'if [ -z "${LIVEKIT_URL}" ]; then transport="--local"; fi' in run
    for var in ("LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"):
        assert shard["env"][var] == "${{ secrets." + var + " }}"
    merge = wf["jobs"]["merge"]
    assert merge["needs"] == "shard"
    assert merge["if"] == "always()"
    steps = merge["steps"]
    assert any("autortc merge shards/" in s.get("run", "") for s in steps)
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact"))
    paths = upload["with"]["path"]
    assert "junit.xml" in paths
    assert "report.html" in paths
    assert "audio/" in paths
