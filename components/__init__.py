"""The Dash user interface: one module per piece of the page. Never imports TensorFlow."""
