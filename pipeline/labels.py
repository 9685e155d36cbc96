"""The label grammar: what a label key and value may be (Kubernetes' label syntax).

A key is an optional DNS-subdomain prefix (at most 253 characters) and ``/``, then a name of
1-63 letters, digits, ``-``, ``_`` and ``.`` that starts and ends with a letter or digit; a
value is empty or such a name. Both ends of a label use this one definition: the selector
parser (:mod:`pipeline.selectors`) builds its grammar from these patterns, and the write-side
rule is the protovalidate CEL rule on ``ApiResourceMetadata.labels``, which spells the same
patterns (a test holds the two in step and checks, with generated labels, that everything
valid on write parses in a selector and matches). So any label that can be stored can be
selected, and a selector never names a label that could not have been stored.
"""

from __future__ import annotations

import re

MAX_PREFIX_CHARS = 253
MAX_NAME_CHARS = 63
#: A name: alphanumeric at both ends, ``-_.`` inside, 1-63 characters.
NAME = r"[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
#: A DNS subdomain (RFC 1123): lowercase labels joined by dots (length checked separately).
PREFIX = r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*"
KEY = rf"(?:{PREFIX}/)?{NAME}"
VALUE = rf"(?:{NAME})?"
#: The prefix bound, as a pattern the CEL rule can also use (at most one "/" is already
#: guaranteed by KEY).
PREFIX_LENGTH = rf"(?:[^/]{{1,{MAX_PREFIX_CHARS}}}/)?[^/]*"

_KEY = re.compile(KEY)
_VALUE = re.compile(VALUE)
_PREFIX_LENGTH = re.compile(PREFIX_LENGTH, re.DOTALL)


def valid_key(key: str) -> bool:
    return _KEY.fullmatch(key) is not None and _PREFIX_LENGTH.fullmatch(key) is not None


def valid_value(value: str) -> bool:
    return _VALUE.fullmatch(value) is not None
