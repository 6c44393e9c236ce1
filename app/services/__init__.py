"""The domain. Nothing in this package imports NiceGUI."""
