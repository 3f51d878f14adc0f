"""Operations: logging setup, Prometheus metrics and /healthz, exports and the weekly report.

Sits beside the orchestration: may import any stage, and the pipeline's and delivery's
result types, but no stage imports ops (logs aside, which imports nothing of ours).
"""
