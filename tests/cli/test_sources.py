"""`agentjobs run enrichment`: the packaged sample company directory served on loopback for the run."""

from __future__ import annotations

import json

from tests.cli.helpers import agentjobs, endpoint_env
from tests.fakes.model_server import reply, respond


def map_the_directory_keys(request):
    asked = request.body["response_format"]["json_schema"]["schema"]["properties"]["mapping"]["properties"]
    return reply(json.dumps({"mapping": {column: pick["enum"][0] for column, pick in asked.items()}}))


def test_run_enrichment_serves_the_sample_directory_and_writes_each_customer_once(model_server, tmp_path):
    import sqlalchemy as sa

    out = tmp_path / "out"
    env = {**endpoint_env(model_server), "AGENTJOBS_MODEL": "scripted"}
    model_server.default_step = respond(map_the_directory_keys)
    result = agentjobs("run", "enrichment", "--team", "team-berlin", "--out", str(out), env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "serving the sample company directory at http://127.0.0.1:" in result.stdout
    text = result.stdout
    assert "Globex GmbH: industry Manufacturing, country DE, 1,200 employees" in text, text
    assert "larger than the 65536-byte cap" in text and "content type is 'text/html'" in text
    assert "HTTP 404" in text and "<script" not in text
    engine = sa.create_engine(f"sqlite:///{out / 'business.db'}")
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT team_id, count(enriched_at) AS n FROM customers GROUP BY team_id ORDER BY team_id"
            )
        ).all()
    engine.dispose()
    # Berlin's 12 but the 3 refused answers (too large, HTML, none); no other team was run.
    assert dict(rows) == {"team-berlin": 9, "team-la": 0, "team-london": 0, "team-sydney": 0, "team-tokyo": 0}
