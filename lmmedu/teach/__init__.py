"""The notebook layer (contract to be written)."""
