"""Task plumbing shared by every task: base class and retry policy."""
