"""Tests of the stage runtime, the stages, the artifact stores and `dubbing run`."""
