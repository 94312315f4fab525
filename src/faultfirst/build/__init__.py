"""The book pipeline: generate and check the notebooks that come from `book/` (see docs/authoring.md)."""
