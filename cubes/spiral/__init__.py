"""Phase-spiral fits (placeholder)."""
