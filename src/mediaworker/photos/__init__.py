"""Photo analysis for moving inventories: the volume table, the result model, the inventory.

- `volumes.csv` / `volumes.py`  the project's own table of moving volumes, one row a category;
                                its categories are the closed vocabulary of the analysis
- `analysis.py`                 the result a provider is asked for and apps read (pydantic),
                                its strict JSON schema, the prompt and their versions
- `inventory.py`                the per-project sums: pure, Decimal, deterministic
"""
