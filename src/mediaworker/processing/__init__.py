"""Pure, synchronous media pipelines (bytes or paths in, bytes out) and the CPU process pool.

Nothing here imports the database, the settings or asyncio, except `pool.py`, the bridge that
runs these functions in worker processes.
"""
