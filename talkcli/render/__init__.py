"""render stage (see DESIGN §2)."""
