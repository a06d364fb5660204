"""The audit log of personal and exact-location data (DPA 2018 Part 3 s.62): append-only."""
