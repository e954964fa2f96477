"""Built-in plugins. Each registers through the `sseft` entry-point group, like third-party ones."""
