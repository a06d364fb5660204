"""Operations: streetsafe."""
