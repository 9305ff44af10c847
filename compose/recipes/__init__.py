"""Recipes: what a binary runs, composed from the engine (training, search, grow).

A binary parses and validates its config, then runs one recipe; a recipe may
use every part of the engine, which never imports a recipe.
"""
