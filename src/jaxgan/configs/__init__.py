"""Built-in configs: each module has `get_config()` and a docstring with its command."""
