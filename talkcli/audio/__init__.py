"""audio stage (see DESIGN §2)."""
