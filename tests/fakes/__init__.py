"""Wire-faithful fake LLM servers: one scriptable HTTP server plus one frame builder per protocol."""
