"""The DubbingJob API: Pydantic models (the source of truth) and CRD generation."""
