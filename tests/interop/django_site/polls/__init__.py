"""Polls: questions and their choices, with votes."""
