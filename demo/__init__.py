"""`python -m demo`: the example resources through their whole lifecycle, locally."""
