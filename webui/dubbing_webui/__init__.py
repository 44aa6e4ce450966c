"""The dubbing web UI: accounts, resumable uploads, job submission, live dashboard."""
