"""Blind indexes: exact match after folding case, accents, spacing, hyphens and apostrophes;
nothing for a prefix, a wildcard or a near miss."""

from __future__ import annotations

import pytest

from strongroom.errors import BadRequest
from strongroom.vault import BlindIndexer, Vault, normalize


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("Éléonore DUPONT", "eleonore dupont"),
        ("  eleonore \t dupont\n", "eleonore dupont"),
        ("Jean-Pierre", "jean pierre"),
        ("Jean – Pierre", "jean pierre"),
        ("O'Brien", "obrien"),
        ("O’Brien", "obrien"),
        ("Straße", "strasse"),
        ("ÇA", "ca"),
        ("ﬁnn", "finn"),
        ("Ａ１２３", "a123"),
        ("İnce", "ince"),
    ],
)
def test_normalize(raw: str, canonical: str) -> None:
    assert normalize(raw) == canonical


def test_folded_values_match(vault: Vault) -> None:
    a = vault.blind_index("name_dob", "Éléonore DUPONT", "1980-05-01")
    b = vault.blind_index("name_dob", "eleonore  dupont", "1980-05-01")
    assert a == b and len(a) == 16
    assert vault.blind_index("name_dob", "D'Arcy-Lefèvre", "1980-05-01") == vault.blind_index(
        "name_dob", "darcy lefevre", "1980-05-01"
    )


@pytest.mark.parametrize(
    "probe",
    [
        "Dupon",
        "Dupond",
        "Dupont*",
        "Dup%",
        "Dupont ",
        "Dupontt",
        "Du",
        "Dupont Martin",
        "Martin Dupont",
    ],
)
def test_prefix_wildcard_and_near_miss_do_not_match(vault: Vault, probe: str) -> None:
    stored = vault.blind_index("name_dob", "Dupont", "1980-05-01")
    found = vault.blind_index("name_dob", probe, "1980-05-01")
    assert (found == stored) is (normalize(probe) == "dupont")


def test_near_miss_dates_and_serials_do_not_match(vault: Vault) -> None:
    stored = vault.blind_index("name_dob", "Dupont", "1980-05-01")
    for date in ("1980-05-02", "1980-05", "1980-05-0", "1980-05-011"):
        assert vault.blind_index("name_dob", "Dupont", date) != stored
    serial = vault.blind_index("serial", "SN-00123")
    for probe in ("SN-0012", "SN-001234", "SN-00124", "SN00123X"):
        assert vault.blind_index("serial", probe) != serial


def test_kinds_are_domain_separated(vault: Vault) -> None:
    assert vault.blind_index("permit", "P-123") != vault.blind_index("serial", "P-123")


def test_value_boundaries_are_unambiguous(vault: Vault) -> None:
    assert vault.blind_index("name_dob", "ab", "c") != vault.blind_index("name_dob", "a", "bc")
    assert vault.blind_index("name_dob", "a b") != vault.blind_index("name_dob", "a", "b")


def test_keyed(vault: Vault) -> None:
    other = BlindIndexer(b"\x01" * 32)
    assert other.digest("permit", "P-123") != vault.blind_index("permit", "P-123")
    assert BlindIndexer(b"\x01" * 32).digest("permit", "P-123") == other.digest("permit", "P-123")


def test_empty_values_and_bad_kinds_refused(vault: Vault) -> None:
    with pytest.raises(BadRequest):
        vault.blind_index("permit", "  ")
    with pytest.raises(BadRequest):
        vault.blind_index("name_dob", "Dupont", "")
    with pytest.raises(ValueError):
        vault.blind_index("Bad Kind", "x")
    with pytest.raises(ValueError):
        vault.blind_index("permit")
    with pytest.raises(ValueError):
        BlindIndexer(b"short")
