"""Benchmarks (``make bench``): each a module run from the repository root.

    python -m bench                    every benchmark, then summary.{json,md,svg} (make bench)
    python -m bench.pipeline           the pipeline on CPU, a 60 s clip (make bench-pipeline)
    python -m bench.operator_loop      the operator's control loop, N jobs at once (make bench-operator)
    python -m bench.upload             direct MinIO vs the upload page's presigned path vs the web UI proxy
    python -m bench.dashboard          dashboard event latency with 100 open streams

They run against the local stack (:mod:`devcluster.stack`) and import nothing from tests/.
"""
