"""Person reads with a data key per person (crypto-shredding, issue 25) against data keys
shared by generations, with the file provider and, when SoftHSM2 is installed, the KEKs in
a token (PKCS#11), all in one run.

N synthetic persons (7 identity and address fields) are written twice per provider:
`shared`, a generation of data keys per 100,000 persons (what the seed did before), and
`person`, two keys per person (identity, address), as the registry now writes them. Figures
per provider and layout, best of several rounds (the layouts alternate which goes first):

  write      persons encrypted per second, keys minted and wrapped included;
  warm       reads through a vault whose cache holds every key (a worker re-reading);
  bounded    reads through a vault with the default cache (16,384 keys): past 8,192
             persons every per-person read unwraps its two keys again (a sweep);
  first      the first read of one person in a fresh vault (both keys unwrapped), median.

Then the blind-index key's online rotation on a real home (`strongroom seed --persons M`
into a temp home, SQLite): the re-index rate (rows/s, every identity, permit and weapon;
run in a process of its own, as `strongroom keys rotate --blind-index` is) and the latency of
exact searches through the ASGI app in this process, outside and during the re-index
(during: both key versions computed and looked up).

    python benchmarks/bench_person_keys.py [--quick] [--persons N] [--rotation-persons M]
Writes benchmarks/results/person_keys.json.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench_vault import make_fields
from bench_vault_hsm import PIN, softhsm_token
from index_rotation_timing import rotation_figures
from results_dir import results_dir

from strongroom.vault import FileKeyProvider, KeyProvider, MemoryWrappedKeyStore, Vault
from strongroom.vault.data_keys import person_dek_id
from strongroom.vault.envelope import DEFAULT_MAX_CACHED_KEYS

RESULTS = results_dir() / "person_keys.json"
FIELDS_PER_PERSON = 7
PERSONS_PER_GENERATION = 100_000
Rows = list[list[tuple[str, str, str, bytes]]]


def write(provider: KeyProvider, fields: list[tuple[str, str, str, str]], layout: str):  # noqa: ANN201
    wrapped = MemoryWrappedKeyStore()
    vault = Vault(provider, wrapped)
    persons: Rows = []
    t0 = time.perf_counter()
    # Read once, as a seed batch does (an HSM provider scans the token to answer).
    versions = {store: provider.kek_version(store) for store in ("identity", "address")}
    for p in range(0, len(fields), FIELDS_PER_PERSON):
        n = p // FIELDS_PER_PERSON
        keys = {}
        if layout == "person":
            for i, store in enumerate(("identity", "address")):
                key = keys[store] = vault.mint_person_key(
                    store, person_dek_id(n + 1, i), versions[store]
                )
                wrapped.put(key.dek_id, store, key.kek_version, key.wrapped)
        elif n % PERSONS_PER_GENERATION == 0:
            for store in ("identity", "address"):
                vault.new_generation(store)
        chunk = fields[p : p + FIELDS_PER_PERSON]
        persons.append(
            [(s, r, f, vault.encrypt(s, r, f, v, key=keys.get(s)) or b"") for s, r, f, v in chunk]
        )
    return wrapped, persons, time.perf_counter() - t0


def read_all(vault: Vault, persons: Rows) -> None:
    dec = vault.decrypt
    for person in persons:
        for s, r, f, b in person:
            dec(s, r, f, b)


def timed(fn: Callable[[], None]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def run(persons: int, rounds: int, providers: dict[str, KeyProvider]) -> dict[str, object]:
    fields = make_fields(persons)
    out: dict[str, object] = {"benchmark": "person_keys", "persons": persons, "rounds": rounds}
    for pname, provider in providers.items():
        data = {layout: write(provider, fields, layout) for layout in ("shared", "person")}
        for layout, (wrapped, rows, secs) in data.items():
            got = [Vault(provider, wrapped).decrypt(*c) for c in rows[-1]]
            if got != [v for *_, v in fields[-FIELDS_PER_PERSON:]]:
                raise SystemExit(f"{pname}/{layout}: round trip failed")
            out[f"{pname}_{layout}_data_keys"] = len(wrapped.all())
            out[f"{pname}_{layout}_write_persons_per_s"] = round(persons / secs)
        best = {(layout, k): 1e9 for layout in data for k in ("warm", "bounded")}
        warm = {
            layout: Vault(provider, data[layout][0], max_cached_keys=4 * persons + 16)
            for layout in data
        }
        bounded = {
            layout: Vault(provider, data[layout][0], max_cached_keys=DEFAULT_MAX_CACHED_KEYS)
            for layout in data
        }
        for layout in data:
            read_all(warm[layout], data[layout][1])
            read_all(bounded[layout], data[layout][1])
        layouts = list(data)
        gc.disable()
        try:
            for i in range(rounds):
                for layout in layouts if i % 2 == 0 else layouts[::-1]:
                    rows = data[layout][1]
                    for kind, vault in (("warm", warm[layout]), ("bounded", bounded[layout])):
                        t = timed(lambda: read_all(vault, rows))  # noqa: B023
                        best[(layout, kind)] = min(best[(layout, kind)], t)
        finally:
            gc.enable()
        for (layout, kind), secs in best.items():
            out[f"{pname}_{layout}_{kind}_persons_per_s"] = round(persons / secs)
        for layout, (wrapped, rows, _) in data.items():
            samples = []
            for i in range(min(len(rows), 300)):
                fresh = Vault(provider, wrapped)
                samples.append(timed(lambda: read_all(fresh, rows[i : i + 1])))  # noqa: B023
            out[f"{pname}_{layout}_first_read_us"] = round(statistics.median(samples) * 1e6, 1)
    out["max_cached_keys"] = DEFAULT_MAX_CACHED_KEYS
    out["python"] = sys.version.split()[0]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (CI smoke run)")
    parser.add_argument("--persons", type=int, default=None)
    parser.add_argument("--rotation-persons", type=int, default=None)
    args = parser.parse_args()
    persons = args.persons or (1_000 if args.quick else 20_000)
    rotation_persons = args.rotation_persons or (300 if args.quick else 20_000)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        providers: dict[str, KeyProvider] = {"file": FileKeyProvider.create(Path(tmp) / "keys")}
        module = softhsm_token(Path(tmp))
        if module is not None:
            from strongroom.vault.pkcs11_keys import Pkcs11KeyProvider

            providers["hsm"] = Pkcs11KeyProvider.create(module, "bench", PIN)
        result = run(persons, 1 if args.quick else 5, providers)
        if module is None:
            result["hsm_skipped"] = "SoftHSM2 is not installed (apt-get install -y softhsm2)"
        result["blind_index_rotation"] = rotation = rotation_figures(
            Path(tmp) / "home", rotation_persons
        )
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    for name in providers:
        for kind in ("write", "warm", "bounded"):
            shared = result[f"{name}_shared_{kind}_persons_per_s"]
            own = result[f"{name}_person_{kind}_persons_per_s"]
            print(f"{name:<4} {kind:<7} persons/s  shared {shared:>9,}  per person {own:>9,}")
        shared, own = (result[f"{name}_{x}_first_read_us"] for x in ("shared", "person"))
        print(f"{name:<4} first read of a fresh vault: shared {shared} us, per person {own} us")
    print(
        f"blind-index rotation of {rotation['persons']:,} persons: "
        f"{rotation['rows']:,} rows at {rotation['rows_per_s']:,} rows/s; search median "
        f"{rotation['search_outside_ms']['p50']} ms outside, "
        f"{rotation['search_during_ms']['p50']} ms during"
    )
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
