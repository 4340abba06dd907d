"""Pure transforms over DuckDB relations: validate, normalise, resolve entities, check quality."""
