"""Safe warehouse queries: the semantic layer, the guarded SQL path, the audit and the catalog."""
