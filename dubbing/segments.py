"""Plain data passed between stages (serialised as JSON artifacts)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class SpeakerTurn:
    start: float
    end: float
    speaker: str

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SpeakerTurn:
        return cls(start=float(data["start"]), end=float(data["end"]), speaker=str(data["speaker"]))


@dataclass(frozen=True)
class Word:
    start: float
    end: float
    word: str
    probability: float | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Word:
        return cls(
            start=float(data["start"]),
            end=float(data["end"]),
            word=str(data["word"]),
            probability=None if data.get("probability") is None else float(data["probability"]),
        )


@dataclass(frozen=True)
class Segment:
    id: int
    start: float
    end: float
    text: str
    speaker: str = "S0"
    words: tuple[Word, ...] = ()
    translation: str | None = None

    @property
    def duration(self) -> float:
        return max(0.0, self.end - self.start)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["words"] = [asdict(word) for word in self.words]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Segment:
        return cls(
            id=int(data["id"]),
            start=float(data["start"]),
            end=float(data["end"]),
            text=str(data["text"]),
            speaker=str(data.get("speaker", "S0")),
            words=tuple(Word.from_dict(word) for word in data.get("words", ())),
            translation=data.get("translation"),
        )


@dataclass(frozen=True)
class Transcript:
    language: str
    segments: tuple[Segment, ...] = field(default_factory=tuple)
    duration: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "language": self.language,
            "duration": self.duration,
            "segments": [segment.to_dict() for segment in self.segments],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Transcript:
        return cls(
            language=str(data["language"]),
            duration=data.get("duration"),
            segments=tuple(Segment.from_dict(item) for item in data.get("segments", ())),
        )
