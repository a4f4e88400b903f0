"""One small reader per input format; each returns RawArticle or Rejection items (see base)."""
