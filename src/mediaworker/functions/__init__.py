"""Job functions: one module per job, each a short recipe over db/, storage/ and processing/."""
