"""The model zoo: every model is registered under a short name (see `registry`)."""
