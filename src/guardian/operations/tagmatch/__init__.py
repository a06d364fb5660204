"""Operations: tagmatch."""
