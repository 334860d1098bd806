"""The desk's people pages: people, roles and grants, changed under four eyes (accounts.services.people)."""
