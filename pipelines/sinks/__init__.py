"""Where pipeline output goes: the warehouse and files."""
