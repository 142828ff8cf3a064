"""Channel-index fetching, caching and lazy loading of conda repodata."""
