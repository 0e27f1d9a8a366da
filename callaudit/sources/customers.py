"""Who the customer is: a key from the numbers a call's metadata carries, and how to show it masked.

The same customer reaches the department as 8 916 123-45-67, +7 916 123 45 67, 79161234567 or
9161234567, depending on the trunk and the PBX; `phonenumbers` (Google's libphonenumber) turns
each into one E.164 key, +79161234567, reading national numbers in a default region ("RU").
An agent's extension (1042), "anonymous", "unknown", an empty or garbled caller ID give no key:
the call's requests then say "customer unknown" rather than guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable

import phonenumbers

EXTENSION_PATTERN = r"^\d{2,6}$"   # the same default as [batch] extension_pattern
HIDDEN = {"anonymous", "unknown", "unavailable", "private", "restricted", "withheld", "blocked",
          "asterisk", "s", "null", "none", "-", "анонимный", "неизвестный", "скрыт", "скрытый"}
INBOUND = {"in", "inbound", "incoming", "from-trunk", "from-pstn", "external-in", "ext-in"}
OUTBOUND = {"out", "outbound", "outgoing", "external", "from-internal", "ext-out"}


@dataclass(frozen=True)
class Customer:
    """The customer side of one call. `key` is the E.164 number (None: customer unknown);
    `side` "src" or "dst" where it came from; `number` the raw value as the metadata had it;
    `why` one line for the evidence."""

    key: str | None
    side: str | None
    number: str | None
    why: str


def customer_key(number: Any, region: str = "RU", extension_pattern: str = EXTENSION_PATTERN) -> str | None:
    """The E.164 key of `number` ("+79161234567"), or None when it names no customer: empty,
    hidden ("anonymous"), an extension, or not a valid number of any country. National numbers
    are read in `region`; a leading 00 (the usual international prefix) counts as "+"."""
    raw = _caller_number(number)
    if raw is None or re.fullmatch(extension_pattern, raw):
        return None
    digits = re.sub(r"[\s().\-–/]", "", raw)
    if digits.startswith("00"):
        digits = "+" + digits[2:]  # Asterisk dial plans write international calls as 00…
    if not re.fullmatch(r"\+?\d{6,17}", digits):
        return None
    try:
        parsed = phonenumbers.parse(digits, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None  # "0000000", a truncated 7 916 12: no customer can be followed on it
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _caller_number(value: Any) -> str | None:
    """The number inside what PBXs write: '"Ivan" <89161234567>', 'sip:+7916…@pbx', 'tel:+7…;ext=2'."""
    if value is None:
        return None
    text = str(value).strip()
    m = re.search(r"<([^>]*)>", text)
    if m:
        text = m.group(1).strip()
    text = re.sub(r"^(?:sips?|tel):", "", text, flags=re.I)
    text = re.split(r"[@;]", text, maxsplit=1)[0].strip().strip('"')
    if not text or text.lower() in HIDDEN:
        return None
    return text


def customer_of(src: Any, dst: Any, extension: Any = None, direction: Any = None, region: str = "RU",
                extension_pattern: str = EXTENSION_PATTERN, own_numbers: Iterable[str] = ()) -> Customer:
    """Which side of a call is the customer, and their key. The side that is not the agent's
    extension; else the direction says (inbound: the caller, outbound: the callee); else the one
    side that is a customer's number. `own_numbers` (the department's DIDs) are never customers."""
    own = {k for k in (customer_key(n, region, extension_pattern) for n in own_numbers) if k}
    keys = {}
    for side, value in (("src", src), ("dst", dst)):
        k = customer_key(value, region, extension_pattern)
        keys[side] = k if k not in own else None
    values = {"src": src, "dst": dst}
    ext = str(extension).strip() if extension not in (None, "") else None
    other = {"src": "dst", "dst": "src"}
    for side in ("src", "dst"):
        if ext and str(values[side] or "").strip() == ext:
            customer = other[side]
            return _made(customer, values[customer], keys[customer],
                         f"{side} {ext} is the agent's extension")
    d = str(direction or "").strip().lower()
    if d in INBOUND or d in OUTBOUND:
        customer = "src" if d in INBOUND else "dst"
        return _made(customer, values[customer], keys[customer], f"the call is {d}")
    found = [side for side in ("src", "dst") if keys[side]]
    if len(found) == 1:
        return _made(found[0], values[found[0]], keys[found[0]], "the only customer number of src/dst")
    if found:
        return Customer(None, None, None, f"customer unknown: both src {src} and dst {dst} are outside numbers, "
                                          "and neither the agent's extension nor the direction says which is the "
                                          "customer")
    return Customer(None, None, None, f"customer unknown: neither src {src!r} nor dst {dst!r} is a customer's number")


def _made(side: str, raw: Any, key: str | None, reason: str) -> Customer:
    if key is None:
        return Customer(None, side, None if raw in (None, "") else str(raw),
                        f"customer unknown: {side} {str(raw or '')!r} is not a customer's number ({reason})")
    return Customer(key, side, str(raw), f"{side} {raw} ({reason})")


def customer_from_metadata(meta: dict, region: str = "RU", extension_pattern: str = EXTENSION_PATTERN,
                           own_numbers: Iterable[str] = ()) -> Customer:
    """`customer_of` on what `MetadataReader.read` returns (src, dst, extension, direction)."""
    return customer_of(meta.get("src"), meta.get("dst"), meta.get("extension"), meta.get("direction"),
                       region, extension_pattern, own_numbers)


def mask_number(key: str | None, masked: bool = True, keep_last: int = 2) -> str:
    """A customer's number for people to read: "+7 916 ***-**-67" (country and area code and the
    last `keep_last` digits shown), the full "+7 916 123-45-67" when `masked` is False (the caller
    passes `redactor.enabled and "phone" in redactor.kinds`), "customer unknown" for None."""
    if key is None:
        return "customer unknown"
    try:
        parsed = phonenumbers.parse(key, None)
    except phonenumbers.NumberParseException:
        return "[phone number]"  # not a key this module made: show nothing of it
    text = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    if not masked:
        return text
    prefix = f"+{parsed.country_code}"
    rest = text[len(prefix):]
    m = re.match(r"[\s\-]*[\d()]+", rest)  # the area (operator) code stays readable: it is not personal
    head, tail = (rest[:m.end()], rest[m.end():]) if m else ("", rest)
    shown = sum(c.isdigit() for c in tail) - keep_last
    out = []
    for c in tail:
        if c.isdigit():
            out.append("*" if shown > 0 else c)
            shown -= 1
        else:
            out.append(c)
    return prefix + head + "".join(out)
