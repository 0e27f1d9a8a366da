"""The customer across calls: one key for every way a PBX writes the same number, none for extensions
and hidden callers, the customer side of a call from its metadata, and the masked number people see."""

from __future__ import annotations

import pytest

from callaudit import config
from callaudit.reports.redact import Redactor
from callaudit.sources.customers import customer_from_metadata, customer_key, customer_of, mask_number
from callaudit.sources.metadata import MetadataReader

FORMS = [
    # one Moscow mobile customer, as trunks and PBXs write it
    ("89161234567", "+79161234567"),
    ("8 916 123-45-67", "+79161234567"),
    ("+7 916 123 45 67", "+79161234567"),
    ("+7 (916) 123-45-67", "+79161234567"),
    ("79161234567", "+79161234567"),
    ("9161234567", "+79161234567"),
    ("916-123-45-67", "+79161234567"),
    ('"Иван Петров" <89161234567>', "+79161234567"),   # CDR clid
    ("sip:+79161234567@pbx.example.ru", "+79161234567"),
    ("tel:+79161234567;ext=12", "+79161234567"),
    # other customers
    ("8(495)123-45-67", "+74951234567"),                # Moscow landline
    ("8 800 555 35 35", "+78005553535"),
    ("+44 20 7946 0958", "+442079460958"),
    ("00442079460958", "+442079460958"),                 # 00 as the international prefix
    ("81044 20 7946 0958", "+442079460958"),             # the Russian 810 prefix
    ("+1 415 555 2671", "+14155552671"),
    # no customer
    ("1042", None),                                       # an agent's extension
    ("201", None),
    ("anonymous", None),
    ("Unknown", None),
    ("", None),
    (None, None),
    ("abc", None),
    ("0000000", None),                                    # possible length, no such number
    ("7 916 12", None),                                   # truncated
    ("+7 916 123 45 67 89 00", None),                     # too long
]


@pytest.mark.parametrize("raw, key", FORMS, ids=[repr(f[0]) for f in FORMS])
def test_number_forms(raw, key):
    assert customer_key(raw) == key


def test_the_table_is_big_enough():
    assert len(FORMS) >= 15


def test_default_region_reads_national_numbers():
    assert customer_key("020 7946 0958", region="GB") == "+442079460958"
    assert customer_key("020 7946 0958", region="RU") is None


def test_the_customer_is_the_side_that_is_not_the_agent():
    inbound = customer_of("89161234567", "1042", extension="1042")
    assert (inbound.key, inbound.side) == ("+79161234567", "src")
    assert inbound.why == "src 89161234567 (dst 1042 is the agent's extension)"
    outbound = customer_of("1042", "8 916 123-45-67", extension="1042")
    assert (outbound.key, outbound.side) == ("+79161234567", "dst")


def test_direction_decides_when_no_extension_is_on_either_side():
    # FreePBX in-{DID}-{caller}: the dialled number is the department's own
    assert customer_of("89161234567", "84951234567", direction="in").side == "src"
    assert customer_of("84951234567", "89161234567", direction="out").side == "dst"
    both = customer_of("89161234567", "84951234567")
    assert both.key is None and "neither the agent's extension nor the direction" in both.why
    own = customer_of("89161234567", "84951234567", own_numbers=["+7 495 123-45-67"])
    assert own.key == "+79161234567"


def test_hidden_caller_is_customer_unknown_not_a_guess():
    c = customer_of("anonymous", "1042", extension="1042")
    assert c.key is None and c.side == "src"
    assert c.why.startswith("customer unknown: src 'anonymous'")
    assert customer_of("", "", None, None).key is None


def test_from_real_metadata(tmp_path):
    """MixMonitor and FreePBX file names, read by the real MetadataReader."""
    names = {
        "q-20261124-101500-89161234567-1042-1795500000.12.wav": ("+79161234567", "src"),
        "out-89161234567-1042-20261124-113000-1795500100.13.wav": ("+79161234567", "dst"),
        "in-84951234567-79161234567-20261124-120000-1795500200.14.wav": ("+79161234567", "src"),
        "q-20261124-130000-anonymous-1042-1795500300.15.wav": (None, "src"),
    }
    reader = MetadataReader(config.defaults())
    for name, (key, side) in names.items():
        (tmp_path / name).write_bytes(b"")
        c = customer_from_metadata(reader.read(tmp_path / name))
        assert (c.key, c.side) == (key, side), (name, c.why)


MASKS = [
    ("+79161234567", "+7 916 ***-**-67"),
    ("+74951234567", "+7 495 ***-**-67"),
    ("+442079460958", "+44 20 **** **58"),
    ("+14155552671", "+1 415-***-**71"),
    (None, "customer unknown"),
]


@pytest.mark.parametrize("key, shown", MASKS)
def test_masked_for_people(key, shown):
    assert mask_number(key) == shown


def test_masking_follows_the_redaction_settings():
    cfg = config.defaults()
    on = Redactor.from_config(cfg)
    masked = on.enabled and "phone" in on.kinds
    assert mask_number("+79161234567", masked) == "+7 916 ***-**-67"
    off = Redactor(enabled=False)
    assert mask_number("+79161234567", off.enabled and "phone" in off.kinds) == "+7 916 123-45-67"
    # what is shown masked stays as it is when a transcript redactor passes over it
    assert on.text("клиент +7 916 ***-**-67") == "клиент +7 916 ***-**-67"
    assert on.text("клиент +7 916 123-45-67") == "клиент [phone number]"
