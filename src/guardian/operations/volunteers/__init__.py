"""Operations: volunteers."""
