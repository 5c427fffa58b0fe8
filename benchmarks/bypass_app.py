"""The baseline of bench_scaled_read.py: Strongroom's owner read (GET /v1/me) with the gate
bypassed. Per request it fetches, from the home's own registry database, the rows the gated
read touches (the person, the ciphertexts of their identity and address, their permits and
weapons) with the registry's own queries and connection pool, and returns them as stored
(ciphertexts in base64): no token, policy, budget, vault, journal or detector. The person is
named by the Authorization header (`Bearer <public ID>`), where the gated read has its
token. Its routes are plain `def` functions returning a dict, as Strongroom's are (thread
pool, FastAPI's JSON encoding). Served by uvicorn with the worker count of
`strongroom serve`, its home in $STRONGROOM_HOME:

    python -m uvicorn bypass_app:app --app-dir benchmarks --workers N --port P
"""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import FastAPI, Header, HTTPException

from strongroom.config import Home
from strongroom.gate.disclosure import ADDRESS, IDENTITY
from strongroom.registry.db import make_engine
from strongroom.registry.repository import Registry

_settings = Home.from_env().settings()
# The pool Strongroom's composition gives the registry (one connection a request in flight).
registry = Registry(make_engine(_settings.registry_url, pool_size=_settings.max_inflight))

app = FastAPI(title="bypass baseline")


def _b64(blob: bytes | None) -> str | None:
    return base64.b64encode(blob).decode() if blob is not None else None


@app.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/v1/me")
def me(authorization: Annotated[str, Header()]) -> dict[str, Any]:
    person_id = authorization.removeprefix("Bearer ")
    with registry.session() as s:
        person = registry.person_by_public_id(s, person_id)
        if person is None:
            raise HTTPException(404, "no such person")
        identity, address = registry.person_blobs(s, person.pk, IDENTITY, ADDRESS)
        permits = registry.permits_of(s, [person.pk])
        weapons = registry.weapons_of(s, person.pk)
    return {
        "id": person.public_id,
        "identity": {k: _b64(v) for k, v in identity.items()},
        "address": {**{k: _b64(v) for k, v in address.items()}, "departement": person.departement},
        "permits": [
            {
                "id": p.public_id,
                "kind": p.kind,
                "categories": p.categories.split(",") if p.categories else [],
                "status": p.status,
                "issued": p.issued.isoformat(),
                "expires": p.expires.isoformat(),
                "number": _b64(p.number_ct),
            }
            for p in permits
        ],
        "weapons": [
            {
                "id": w.public_id,
                "serial": _b64(w.serial_ct),
                "category": w.category,
                "make": w.make,
                "model": w.model,
                "calibre": w.calibre,
                "status": w.status,
            }
            for w in weapons
        ],
    }
