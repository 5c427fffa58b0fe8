"""The baseline of bench_http.py: a bare FastAPI app answering a fixed JSON person record
(identity, address, permits, weapons: the shape and size of Strongroom's GET /v1/me
answer, about 750 bytes) with no token, budget, policy, vault or journal. Its routes are
plain `def` functions returning a dict, as Strongroom's are (thread pool, FastAPI's JSON
encoding). Served by uvicorn with the same options and worker count as `strongroom serve`:

    python -m uvicorn bare_app:app --app-dir benchmarks --workers N --port P
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

# Made-up values of the seeded kind (no real person).
RECORD: dict[str, Any] = {
    "id": "0008d2ff-3a59-424c-b044-8ca8eab48d1e",
    "identity": {
        "family_name": "Exemple",
        "given_names": "Benoît Guy",
        "birth_date": "1964-06-10",
        "birth_place": "Brunel",
    },
    "address": {
        "street": "160 rue de Collin",
        "city": "Bigot",
        "postcode": "95333",
        "departement": "95",
    },
    "permits": [
        {
            "id": "2eb0fb94-37b8-4d6c-a3df-753867742387",
            "kind": "hunting",
            "categories": ["C"],
            "status": "valid",
            "issued": "2023-02-21",
            "expires": "2033-02-18",
        }
    ],
    "weapons": [
        {
            "id": "b7a81561-25b2-47ee-a622-67615fb6cdde",
            "serial": "VCH28854825",
            "category": "C",
            "make": "Verney-Carron",
            "model": "Sagittaire",
            "calibre": "12/70",
            "status": "registered",
        },
        {
            "id": "daeda28e-b30d-47c9-b914-fe9df4478db4",
            "serial": "BNE00138985",
            "category": "C",
            "make": "Benelli",
            "model": "Argo E",
            "calibre": "9.3x62",
            "status": "registered",
        },
    ],
}

app = FastAPI(title="bare baseline")


@app.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/v1/me")
def me() -> dict[str, Any]:
    return RECORD


@app.get("/v1/me-async")
async def me_async() -> dict[str, Any]:
    """The same answer from the event loop, without the thread pool: bench_http measures
    the hand-over to a worker thread as the difference."""
    return RECORD


@app.get("/v1/cases")
def cases() -> dict[str, Any]:
    return RECORD
