"""Molecular similarity and substructure search (RDKit Morgan fingerprints, exact Tanimoto top-k)."""
