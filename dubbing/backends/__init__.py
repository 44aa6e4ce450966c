"""Backends: one small interface per stage, each able to say whether it can run here."""
