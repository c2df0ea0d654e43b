"""Orders: an example Django app whose views enqueue work after their transaction commits."""
