"""Harmless model files built the way attackers build dangerous ones; see README.md here."""
