"""Pulling model weights from the Hugging Face Hub into the model cache (``dubbing models pull``)."""
