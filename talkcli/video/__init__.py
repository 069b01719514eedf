"""video stage (see DESIGN §2)."""
