"""One handler (pipeline) per Session operation, and the SessionController that runs them."""
