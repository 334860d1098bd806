"""Why a transfer failed (or is unknown), in words: a sentence per BingX error code or desk reason,
with the BingX code and BingX's own message kept as the detail ("BingX code 100202")."""

from __future__ import annotations

from dataclasses import dataclass

# BingX error codes (reference/bingx-api.md §8) → what happened, for people. {asset} is filled in.
BINGX_CODE_SENTENCES: dict[str, str] = {
    "100202": "The source wallet did not hold enough {asset} for this transfer; nothing moved.",
    "101204": "The source wallet did not hold enough {asset} for this transfer; nothing moved.",
    "100004": "The key set's API key lacks the BingX permission this transfer needs; nothing moved.",
    "100419": "BingX refused this server's IP address for the key set (IP whitelist); nothing moved.",
    "100001": "BingX rejected the key set's signature (wrong secret?); nothing moved.",
    "100412": "BingX rejected the key set's signature; nothing moved.",
    "100413": "BingX does not know the key set's API key; nothing moved.",
    "100421": "BingX kept rejecting the request time, even after the clock was resynced; nothing moved.",
    "100410": "BingX kept rate-limiting this transfer; nothing moved.",
    "100400": "BingX rejected the transfer's parameters; nothing moved.",
    "80014": "BingX rejected the transfer's parameters; nothing moved.",
    "100437": "The amount is below BingX's minimum for this transfer; nothing moved.",
    "80020": "BingX's risk control refused this transfer; nothing moved.",
    "100414": "BingX has restricted the account (risk control or verification); nothing moved.",
    "100500": "BingX reported an internal error and refused the transfer; nothing moved.",
    "80012": "BingX said the service was unavailable and refused the transfer; nothing moved.",
}

# What BingX says in words when its code is 0 or absent (transferErrorMsg, spec §6.4).
BINGX_MESSAGE_SENTENCES: dict[str, str] = {
    "insufficient": BINGX_CODE_SENTENCES["100202"],
    "illegal transfertype": "BingX does not allow a transfer between these two wallets; nothing moved.",
}

# The desk's own failure codes (transfers.execution).
DESK_SENTENCES: dict[str, str] = {
    "not_found": "BingX has no record of this transfer after the settle window; nothing moved.",
    "not_sent": "BingX could not be reached, so nothing was sent.",
    "exchange_failed": "BingX recorded this transfer as failed; nothing moved.",
    "refused": "The desk refused to send this transfer when it checked it again before sending.",
}

UNKNOWN_SENTENCE = (
    "The outcome is not known yet: the connection to BingX was lost after the transfer was sent. "
    "The desk is looking for it in BingX's records and will never send it again."
)


@dataclass(frozen=True)
class Failure:
    text: str  # the sentence for people
    detail: str  # "BingX code 100202 · Insufficient balance …" (may be empty)

    def __bool__(self) -> bool:
        return bool(self.text)

    def __str__(self) -> str:
        return f"{self.text} ({self.detail})" if self.detail else self.text


def failure_text(*, code: str | None, message: str | None, asset: str = "") -> Failure:
    """The failure of a request in words; empty when there is none."""
    code = (code or "").strip()
    message = (message or "").strip()
    if not code and not message:
        return Failure("", "")
    if code in DESK_SENTENCES:
        text = DESK_SENTENCES[code]
        if code == "refused" and message:
            text = f"{text} {message}"
            message = ""
        return Failure(text, message)
    bingx_code = code if code.isdigit() and code != "0" else ""
    detail = "; ".join(x for x in (f"BingX code {bingx_code}" if bingx_code else "", message) if x)
    if bingx_code in BINGX_CODE_SENTENCES:
        return Failure(BINGX_CODE_SENTENCES[bingx_code].format(asset=asset or "of the asset"), detail)
    lowered = message.lower()
    for needle, sentence in BINGX_MESSAGE_SENTENCES.items():
        if needle in lowered:
            return Failure(sentence.format(asset=asset or "of the asset"), detail)
    if lowered.startswith("outcome unknown"):
        return Failure(UNKNOWN_SENTENCE, detail)
    if code.startswith("HTTP "):
        return Failure(f"BingX answered {code}; the transfer was refused.", message)
    if bingx_code:
        return Failure("BingX refused the transfer; nothing moved.", detail)
    return Failure(message or f"The transfer failed ({code}).", "")
