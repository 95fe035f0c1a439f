"""GPT-2's byte-to-unicode alphabet: how byte-level tokenizers spell each byte as a character.

The byte tokenizer of the shipped models and byte-level BPE tokenizers (GPT-2, SmolLM2) both
use it; `mechscope.models.tokens.str_tokens` reads it backwards to show partial UTF-8 tokens as
their bytes.
"""


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's map from each byte to the printable character byte-level BPE spells it with."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1)]
    printable += range(ord("®"), ord("ÿ") + 1)
    chars = list(printable)
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return {b: chr(c) for b, c in zip(printable, chars, strict=True)}
