"""The resolver core: a provider-driven CDCL solver with conda semantics."""
