"""Language tags: BCP-47 (``pt-BR``) to the ISO 639-2/B codes containers use (``por``). Pure."""

from __future__ import annotations

#: ISO 639-1 → ISO 639-2/B (the bibliographic codes MP4/Matroska players expect).
ISO639_2 = {
    "af": "afr",
    "am": "amh",
    "ar": "ara",
    "az": "aze",
    "be": "bel",
    "bg": "bul",
    "bn": "ben",
    "bs": "bos",
    "ca": "cat",
    "cs": "cze",
    "cy": "wel",
    "da": "dan",
    "de": "ger",
    "el": "gre",
    "en": "eng",
    "eo": "epo",
    "es": "spa",
    "et": "est",
    "eu": "baq",
    "fa": "per",
    "fi": "fin",
    "fr": "fre",
    "ga": "gle",
    "gl": "glg",
    "gu": "guj",
    "he": "heb",
    "hi": "hin",
    "hr": "hrv",
    "hu": "hun",
    "hy": "arm",
    "id": "ind",
    "is": "ice",
    "it": "ita",
    "ja": "jpn",
    "ka": "geo",
    "kk": "kaz",
    "km": "khm",
    "kn": "kan",
    "ko": "kor",
    "la": "lat",
    "lt": "lit",
    "lv": "lav",
    "mk": "mac",
    "ml": "mal",
    "mn": "mon",
    "mr": "mar",
    "ms": "may",
    "mt": "mlt",
    "my": "bur",
    "nb": "nob",
    "ne": "nep",
    "nl": "dut",
    "nn": "nno",
    "no": "nor",
    "pa": "pan",
    "pl": "pol",
    "ps": "pus",
    "pt": "por",
    "ro": "rum",
    "ru": "rus",
    "si": "sin",
    "sk": "slo",
    "sl": "slv",
    "so": "som",
    "sq": "alb",
    "sr": "srp",
    "sv": "swe",
    "sw": "swa",
    "ta": "tam",
    "te": "tel",
    "th": "tha",
    "tl": "tgl",
    "tr": "tur",
    "uk": "ukr",
    "ur": "urd",
    "uz": "uzb",
    "vi": "vie",
    "yi": "yid",
    "yo": "yor",
    "zh": "chi",
    "zu": "zul",
}


def primary(tag: str) -> str:
    return tag.split("-", 1)[0].lower()


def iso639_2(tag: str | None) -> str:
    """``pt-BR`` → ``por``; a 3-letter primary subtag is kept; unknown → ``und``."""
    if not tag:
        return "und"
    code = primary(tag)
    if len(code) == 3:
        return code
    return ISO639_2.get(code, "und")
