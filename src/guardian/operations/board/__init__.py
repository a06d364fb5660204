"""Operations: board."""
