"""Opt-in batteries; heavy dependencies are imported only here (arrive with their issues)."""
