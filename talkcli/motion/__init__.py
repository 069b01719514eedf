"""motion stage (see DESIGN §2)."""
