"""The four demo services; each subpackage is one FastAPI service (see its README)."""
