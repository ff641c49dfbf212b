"""`pii`: find e-mail addresses, IP addresses, phone numbers, payment cards and IBANs (`detectors.py`),
count them per kind (`pii_email`, `pii_ipv4`, `pii_ipv6`, `pii_phone`, `pii_card`, `pii_iban`) and replace
them with placeholders (`mode: redact`) or leave the text as it is (`mode: flag`). Nothing is removed: a
threshold on the counts belongs in `quality_filter` (e.g. `{column: pii_card, op: '==', value: 0}`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa

from curate.config import option, suggest
from curate.pii.detectors import KINDS, find, replace
from curate.stages.base import Stage, register

Kind = Literal["email", "ipv4", "ipv6", "phone", "card", "iban"]
PLACEHOLDERS = {
    "email": "<EMAIL>",
    "ipv4": "<IP_ADDRESS>",
    "ipv6": "<IP_ADDRESS>",
    "phone": "<PHONE>",
    "card": "<CARD_NUMBER>",
    "iban": "<IBAN>",
}


@dataclass
class PiiParams:
    kinds: list[Kind] = option(default_factory=lambda: list(KINDS), help="The kinds of PII to find.")
    mode: Literal["redact", "flag"] = option(
        "redact", help="redact: replace each find with its placeholder; flag: count only."
    )
    placeholders: dict[str, str] = option(
        default_factory=dict,
        help=f"Replacement text per kind, over the defaults {PLACEHOLDERS}.",
    )
    public_ips_only: bool = option(
        True, help="Count an IP address only when it is globally routable (not private, loopback, ...)."
    )

    def __post_init__(self):
        for kind in self.placeholders:
            if kind not in KINDS:
                raise ValueError(
                    f"placeholders: unknown kind '{kind}'.{suggest(kind, KINDS)} Kinds: {KINDS}."
                )


@register
class Pii(Stage):
    """Count PII per kind per document and replace it with placeholders."""

    name = "pii"
    Params = PiiParams
    summary = "E-mail, IPv4/IPv6, phone, payment card (Luhn) and IBAN (mod 97): pii_* counts; redact or flag."

    def adds(self) -> dict[str, pa.DataType]:
        return {f"pii_{kind}": pa.int32() for kind in KINDS}

    def annotate(self, df: pd.DataFrame) -> pd.DataFrame:
        p = self.params
        kinds = tuple(p.kinds)
        placeholders = {**PLACEHOLDERS, **p.placeholders}
        texts = df["text"].tolist()
        counts = {kind: np.zeros(len(texts), dtype=np.int32) for kind in KINDS}
        out = list(texts)
        for i, text in enumerate(texts):
            found = find(text, kinds, p.public_ips_only)
            for f in found:
                counts[f.kind][i] += 1
            if found and p.mode == "redact":
                out[i] = replace(text, found, placeholders)
        df = df.copy()
        for kind in KINDS:
            df[f"pii_{kind}"] = counts[kind]
        if p.mode == "redact":
            df["text"] = pd.Series(out, index=df.index, dtype=object)
        return df

    def counters(self, df: pd.DataFrame) -> dict[str, int]:
        """Finds per kind and documents with at least one, summed into the run's metrics."""
        out, any_pii = {}, np.zeros(len(df), dtype=bool)
        for kind in self.params.kinds:
            n = df[f"pii_{kind}"].to_numpy()
            out[f"found:{kind}"] = int(n.sum())
            out[f"documents:{kind}"] = int((n > 0).sum())
            any_pii |= n > 0
        out["documents_with_pii"] = int(any_pii.sum())
        return out
