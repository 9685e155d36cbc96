"""Label selectors: ``env=prod,tier!=free,team,!legacy``.

Requirements are comma-separated and all must hold:

==============  =====================================================
``key=value``   the label is present with that value (``==`` too)
``key!=value``  the label is absent or has another value (as in Kubernetes)
``key``         the label is present, with any value
``!key``        the label is absent
==============  =====================================================

Keys and values follow the label grammar of :mod:`pipeline.labels` (Kubernetes' label
syntax), the same one labels are validated with on write: a selector can name exactly the
labels that can be stored. Whitespace around tokens is ignored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from pipeline import labels
from pipeline.errors import InvalidArgument, quote

EQUALS, NOT_EQUALS, EXISTS, NOT_EXISTS = "=", "!=", "exists", "!exists"
_KEY = labels.KEY
_VALUE = labels.VALUE
_REQUIREMENT = re.compile(
    rf"(?:(?P<not>!)\s*(?P<absent>{_KEY})|(?P<key>{_KEY})\s*(?:(?P<op>==|=|!=)\s*(?P<value>{_VALUE}))?)"
)


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str
    value: str = ""

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.op == EQUALS:
            return labels.get(self.key) == self.value
        if self.op == NOT_EQUALS:
            return labels.get(self.key) != self.value
        if self.op == EXISTS:
            return self.key in labels
        return self.key not in labels

    def __str__(self) -> str:
        if self.op in (EQUALS, NOT_EQUALS):
            return f"{self.key}{self.op}{self.value}"
        return self.key if self.op == EXISTS else f"!{self.key}"


def parse(selector: str, field: str = "label_selector") -> tuple[Requirement, ...]:
    """The requirements of ``selector`` (empty: none); InvalidArgument naming ``field`` and
    the offending part when it does not parse."""
    if not selector.strip():
        return ()
    requirements = []
    for part in selector.split(","):
        match = _REQUIREMENT.fullmatch(part.strip())
        # The pattern checks the key's syntax; valid_key adds the prefix's length bound.
        if match is None or not labels.valid_key(match["absent"] or match["key"]):
            raise InvalidArgument.for_field(
                field,
                f"cannot parse {quote(part.strip())}: use key=value, key!=value, key or !key, separated "
                "by commas; keys and values follow the label syntax (docs/limits.md)",
                "label_selector.syntax",
            )
        if match["absent"]:
            requirements.append(Requirement(match["absent"], NOT_EXISTS))
        elif match["op"]:
            op = NOT_EQUALS if match["op"] == "!=" else EQUALS
            requirements.append(Requirement(match["key"], op, match["value"]))
        else:
            requirements.append(Requirement(match["key"], EXISTS))
    return tuple(requirements)


def matches(requirements: tuple[Requirement, ...], labels: Mapping[str, str]) -> bool:
    return all(r.matches(labels) for r in requirements)
