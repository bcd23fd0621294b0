// The Cog-compatible HTTP API.
