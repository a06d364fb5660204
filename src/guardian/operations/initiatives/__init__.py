"""Operations: initiatives."""
