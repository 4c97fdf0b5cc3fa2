"""Dock panels of the main window; each shows one aspect of the selected module call."""
